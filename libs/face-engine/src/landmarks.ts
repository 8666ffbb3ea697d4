import { cropResizePadded } from './image';
import type { LandmarkSpec } from './manifest';
import { OnnxModel, type RuntimeOptions } from './onnx';
import type { Box, FivePoints, Point, RgbImage } from './types';

type ModelLandmarkSpec = Extract<LandmarkSpec, { source: 'model' }>;

/**
 * 68-point landmark model (faceplugin fr_landmark, iBUG 68 layout): a grey square crop of the
 * face box, pixels / 256, in; 68 (x, y) pairs normalised to the crop, out.
 */
export class Landmarker68 {
  private constructor(
    private readonly model: OnnxModel,
    private readonly spec: ModelLandmarkSpec,
  ) {}

  static async load(spec: ModelLandmarkSpec, runtime: RuntimeOptions = {}): Promise<Landmarker68> {
    return new Landmarker68(await OnnxModel.load(spec.file, runtime), spec);
  }

  /** The 68 points of the face in `box`, in image pixels. */
  async landmarks68(image: RgbImage, box: Box): Promise<Point[]> {
    const size = this.spec.input;
    const square = squareAround(box);
    const crop = await cropResizePadded(image, square, size, size);
    const input = new Float32Array(size * size);
    for (let i = 0, p = 0; i < input.length; i++, p += 3) {
      input[i] = (0.299 * crop.data[p] + 0.587 * crop.data[p + 1] + 0.114 * crop.data[p + 2]) / 256;
    }
    const out = await this.model.run(input, [1, 1, size, size]);
    const v = Object.values(out)[0].data;
    const side = square.x2 - square.x1;
    const points: Point[] = [];
    for (let i = 0; i < 68; i++) points.push([square.x1 + v[2 * i] * side, square.y1 + v[2 * i + 1] * side]);
    return points;
  }

  async release(): Promise<void> {
    await this.model.release();
  }
}

/**
 * The square crop the landmark model was trained on: side = box height, same centre (as the
 * reference implementation squares the detector's boxes).
 */
export function squareAround(box: Box): Box {
  const side = box.y2 - box.y1;
  const cx = (box.x1 + box.x2) / 2, cy = (box.y1 + box.y2) / 2;
  return { x1: cx - side / 2, y1: cy - side / 2, x2: cx + side / 2, y2: cy + side / 2 };
}

/**
 * The five alignment points from iBUG-68 landmarks: eye centres (mean of each eye's six
 * contour points 36–41 and 42–47), nose tip (30), and mouth corners (mean of the outer and inner
 * lip corners 48/60 and 54/64).
 */
export function fivePointsFrom68(p: readonly Point[]): FivePoints {
  const mean = (idx: number[]): Point => [
    idx.reduce((s, i) => s + p[i][0], 0) / idx.length,
    idx.reduce((s, i) => s + p[i][1], 0) / idx.length,
  ];
  return [mean([36, 37, 38, 39, 40, 41]), mean([42, 43, 44, 45, 46, 47]), p[30], mean([48, 60]), mean([54, 64])];
}
