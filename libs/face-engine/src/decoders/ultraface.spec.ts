import type { OutputTensor } from './decoder-outputs';
import { decodeUltraface } from './ultraface';

const INPUT = { width: 320, height: 240 };

/** UltraFace outputs for rows of [background, face] scores and normalised (x1, y1, x2, y2) boxes. */
function outputs(rows: { face: number; box: [number, number, number, number] }[]): { scores: OutputTensor; boxes: OutputTensor } {
  return {
    scores: { data: Float32Array.from(rows.flatMap((r) => [1 - r.face, r.face])), dims: [1, rows.length, 2] },
    boxes: { data: Float32Array.from(rows.flatMap((r) => r.box)), dims: [1, rows.length, 4] },
  };
}

describe('decodeUltraface', () => {
  it('scales normalised corners by the input size', () => {
    const out = decodeUltraface(outputs([
      { face: 0.9, box: [0.1, 0.2, 0.3, 0.5] },
      { face: 0.8, box: [0, 0, 1, 1] },
    ]), INPUT, 0.5);
    expect(out).toHaveLength(2);
    expect(out[0].score).toBeCloseTo(0.9, 6);
    expect(out[0].box.x1).toBeCloseTo(32, 4);
    expect(out[0].box.y1).toBeCloseTo(48, 4);
    expect(out[0].box.x2).toBeCloseTo(96, 4);
    expect(out[0].box.y2).toBeCloseTo(120, 4);
    expect(out[1].box).toEqual({ x1: 0, y1: 0, x2: 320, y2: 240 });
    expect(out[1].score).toBeCloseTo(0.8, 6);
    expect(out.every((d) => d.landmarks === undefined)).toBe(true);
  });

  it('uses the input size it is given (not a fixed 320×240)', () => {
    const [d] = decodeUltraface(outputs([{ face: 0.99, box: [0.25, 0.5, 0.75, 1] }]), { width: 640, height: 480 }, 0.5);
    expect(d.box).toEqual({ x1: 160, y1: 240, x2: 480, y2: 480 });
  });

  it('keeps rows whose face score reaches the threshold, in row order', () => {
    const rows = [
      { face: 0.69, box: [0.1, 0.1, 0.2, 0.2] as [number, number, number, number] },
      { face: 0.7, box: [0.3, 0.3, 0.4, 0.4] as [number, number, number, number] },
      { face: 0.1, box: [0.5, 0.5, 0.6, 0.6] as [number, number, number, number] },
      { face: 0.95, box: [0.7, 0.7, 0.8, 0.8] as [number, number, number, number] },
    ];
    const t = Math.fround(0.7); // the score as stored in the Float32Array
    const out = decodeUltraface(outputs(rows), INPUT, t);
    expect(out.map((d) => d.box.x1)).toEqual([Math.fround(0.3) * 320, Math.fround(0.7) * 320]);
    expect(decodeUltraface(outputs(rows), INPUT, 0.96)).toEqual([]);
    expect(decodeUltraface(outputs(rows), INPUT, 0)).toHaveLength(4);
  });

  it('reads the face score from column 1, not the background column 0', () => {
    const scores = { data: Float32Array.from([0.95, 0.05]), dims: [1, 1, 2] };
    const boxes = { data: Float32Array.from([0.1, 0.1, 0.5, 0.5]), dims: [1, 1, 4] };
    expect(decodeUltraface({ scores, boxes }, INPUT, 0.5)).toEqual([]);
    scores.data.set([0.05, 0.95]);
    expect(decodeUltraface({ scores, boxes }, INPUT, 0.5)).toHaveLength(1);
  });

  it('drops degenerate boxes (zero or negative width or height)', () => {
    const out = decodeUltraface(outputs([
      { face: 0.9, box: [0.5, 0.1, 0.4, 0.3] }, // x2 < x1
      { face: 0.9, box: [0.1, 0.3, 0.2, 0.3] }, // y2 = y1
      { face: 0.9, box: [0.2, 0.2, 0.2, 0.4] }, // x2 = x1
      { face: 0.9, box: [0.1, 0.6, 0.2, 0.5] }, // y2 < y1
      { face: 0.9, box: [0.1, 0.1, 0.2, 0.2] }, // fine
    ]), INPUT, 0.5);
    expect(out).toHaveLength(1);
    expect(out[0].box.x1).toBeCloseTo(32, 4);
    expect(out[0].box.y2).toBeCloseTo(48, 4);
  });

  it('decodes nothing from empty outputs', () => {
    expect(decodeUltraface(outputs([]), INPUT, 0.5)).toEqual([]);
  });

  it('throws when an output is missing', () => {
    const { scores, boxes } = outputs([{ face: 0.9, box: [0.1, 0.1, 0.2, 0.2] }]);
    expect(() => decodeUltraface({ scores }, INPUT, 0.5)).toThrow(/"scores" and "boxes"/);
    expect(() => decodeUltraface({ boxes }, INPUT, 0.5)).toThrow(/"scores" and "boxes"/);
    expect(() => decodeUltraface({}, INPUT, 0.5)).toThrow(/ultraface/);
    expect(() => decodeUltraface({ score: scores, boxes }, INPUT, 0.5)).toThrow();
  });
});
