/**
 * Which face of a photo's earlier version each face of its new version is.
 *
 * Why: a photo submitted again under the same key replaces its faces, and what a person decided
 * about a face (named it, merged or moved it) must stay with that face, not with its position in
 * the detector's list. The position is not the face: a re-encoded or mirrored copy of the same
 * picture lists its faces in another order, and another picture under the same key has other
 * faces altogether. So faces are paired by their embeddings: the same face of the same picture
 * (re-encoded, resized, mirrored, slightly rotated) stays at cosine ≥ 0.98 with the default
 * embedder, two photos of one person average 0.69 and two people 0.0. A new face below
 * SAME_FACE_SIMILARITY to every earlier face is a new face and starts with no decision.
 */
export const SAME_FACE_SIMILARITY = 0.8;

/**
 * For each of `current`, the index in `earlier` of the same face, or -1. Pairs are
 * one-to-one, most similar first (greedy), and only at SAME_FACE_SIMILARITY or above. An earlier
 * face without a vector (null) pairs with nothing.
 */
export function sameFaces(current: Float32Array[], earlier: (Float32Array | null)[], min = SAME_FACE_SIMILARITY): number[] {
  const pairs: [similarity: number, now: number, before: number][] = [];
  current.forEach((a, i) =>
    earlier.forEach((b, j) => {
      if (!b || b.length !== a.length) return;
      let ab = 0, aa = 0, bb = 0;
      for (let d = 0; d < a.length; d++) {
        ab += a[d] * b[d];
        aa += a[d] * a[d];
        bb += b[d] * b[d];
      }
      const s = ab / Math.sqrt(aa * bb);
      if (s >= min) pairs.push([s, i, j]);
    }),
  );
  pairs.sort((x, y) => y[0] - x[0]);
  const out = current.map(() => -1);
  const taken = new Set<number>();
  for (const [, i, j] of pairs) {
    if (out[i] !== -1 || taken.has(j)) continue;
    out[i] = j;
    taken.add(j);
  }
  return out;
}
