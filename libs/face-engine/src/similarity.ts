/** Scales a vector to unit length in place (a zero vector stays zero) and returns it. */
export function l2Normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (let i = 0; i < v.length; i++) sum += v[i] * v[i];
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < v.length; i++) v[i] /= norm;
  return v;
}

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`vector lengths differ: ${a.length} vs ${b.length}`);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Cosine similarity in [−1, 1]. For the engine's embeddings, which are unit length, this equals
 * their dot product. (Plain cosine: the reference JS's matchFeature subtracts the pair mean and is
 * wrong.)
 */
export function cosineSimilarity(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const na = Math.sqrt(dot(a, a)), nb = Math.sqrt(dot(b, b));
  if (na === 0 || nb === 0) return 0;
  // Rounding can take a face compared with itself to 1.0000000000000002.
  return Math.min(1, Math.max(-1, dot(a, b) / (na * nb)));
}
