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
 * How much the overlap of two boxes adds to their similarity when pairs are ranked: enough to
 * tell apart two faces of one person at almost the same similarity (twins, a face pasted twice),
 * far too little to overrule an embedding (another face of the picture is under 0.5).
 */
const PLACE_WEIGHT = 0.05;

/** A box as faces carry it: x, y, width, height. */
export type Box = readonly [number, number, number, number];

/**
 * For each of `current`, the index in `earlier` of the same face, or -1. Pairs are one-to-one, most
 * similar first (greedy; with boxes, the overlap of the two boxes breaks near-ties), and only at
 * SAME_FACE_SIMILARITY or above. An earlier face without a vector (null) pairs with nothing.
 */
export function sameFaces(
  current: Float32Array[],
  earlier: (Float32Array | null)[],
  boxes?: { current: readonly (Box | undefined)[]; earlier: readonly (Box | undefined)[] },
  min = SAME_FACE_SIMILARITY,
): number[] {
  const pairs: [rank: number, now: number, before: number][] = [];
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
      if (s >= min) pairs.push([s + PLACE_WEIGHT * overlap(boxes?.current[i], boxes?.earlier[j]), i, j]);
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

/** Intersection over union of two boxes; 0 when either is missing. */
function overlap(a: Box | undefined, b: Box | undefined): number {
  if (!a || !b) return 0;
  const w = Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a[2] * a[3] + b[2] * b[3] - inter);
}
