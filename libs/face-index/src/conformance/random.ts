/** Seeded test data, shared by the conformance suite and the crash test's child process. */
import { seededRandom } from '@facepipe/contracts';

/** The shared seeded generator (mulberry32), under the name the conformance suite uses. */
export const rng = seededRandom;

/** A random unit vector (Gaussian components, normalised). */
export function unit(r: () => number, dims: number): Float32Array {
  const v = new Float32Array(dims);
  let s = 0;
  for (let i = 0; i < dims; i++) {
    const g = Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
    v[i] = g;
    s += g * g;
  }
  const n = Math.sqrt(s);
  for (let i = 0; i < dims; i++) v[i] /= n;
  return v;
}
