import { SAME_FACE_SIMILARITY, sameFaces } from './same-faces';

const v = (...xs: number[]) => Float32Array.from(xs);

describe('sameFaces', () => {
  it('pairs faces by their vectors, not their positions, one to one, most similar first', () => {
    const a = v(1, 0, 0), b = v(0, 1, 0), c = v(0, 0, 1);
    // The same three faces listed in another order, one of them slightly changed (re-encoded).
    expect(sameFaces([c, v(0.99, 0.1, 0), b], [a, b, c])).toEqual([2, 0, 1]);
    // Two new faces close to one earlier face: only the closer one is it; the other is new.
    expect(sameFaces([v(0.9, 0.3, 0), v(1, 0.05, 0)], [a])).toEqual([-1, 0]);
  });

  it('tells two faces of one person apart by their place when their similarities almost tie (twins, a face pasted twice)', () => {
    const left: [number, number, number, number] = [0, 0, 100, 100], right: [number, number, number, number] = [400, 0, 100, 100];
    const a = v(1, 0.01, 0), b = v(1, 0, 0.01);
    // Re-encoded, each copy is a hair closer to the other one's vector: the places decide.
    expect(sameFaces([v(1, 0, 0.011), v(1, 0.011, 0)], [a, b], { current: [left, right], earlier: [left, right] })).toEqual([0, 1]);
    expect(sameFaces([v(1, 0, 0.011), v(1, 0.011, 0)], [a, b])).toEqual([1, 0]); // without boxes, the vectors
    // A clearly closer vector still wins over the place.
    expect(sameFaces([v(1, 0, 0)], [v(0.85, 0.5, 0), v(1, 0.02, 0)], { current: [left], earlier: [left, right] })).toEqual([1]);
  });

  it('leaves a face of another picture unpaired: its decisions do not carry over', () => {
    // Cosine 0.7: the same person in another photo, not the same face.
    const other = v(0.7, Math.sqrt(1 - 0.49), 0);
    expect(0.7).toBeLessThan(SAME_FACE_SIMILARITY);
    expect(sameFaces([other], [v(1, 0, 0)])).toEqual([-1]);
    expect(sameFaces([v(1, 0, 0)], [])).toEqual([-1]);
    expect(sameFaces([v(1, 0, 0)], [null])).toEqual([-1]);
  });

  it('compares by cosine, whatever the vectors\' lengths', () => {
    expect(sameFaces([v(3, 0, 0)], [v(0.5, 0.01, 0)])).toEqual([0]);
    expect(sameFaces([v(1, 0)], [v(1, 0, 0)])).toEqual([-1]); // another dimension is never the same face
  });
});
