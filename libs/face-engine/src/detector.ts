import sharp from 'sharp';
import { decodeScrfd } from './decoders/scrfd';
import { decodeUltraface } from './decoders/ultraface';
import { decodeYunet } from './decoders/yunet';
import type { DecoderOutputs } from './decoders/decoder-outputs';
import { cropResize, padTo } from './image';
import type { DetectorSpec } from './manifest';
import { nms, suppressContained } from './nms';
import { OnnxModel, type RuntimeOptions } from './onnx';
import { toChwTensor } from './tensor';
import { planTiles, type Tile } from './tiling';
import type { Detection, Point, RgbImage } from './types';

type Decoder = (outputs: DecoderOutputs, input: { width: number; height: number }, scoreThreshold: number) => Detection[];

const DECODERS: Record<DetectorSpec['kind'], Decoder> = {
  ultraface: decodeUltraface,
  scrfd: decodeScrfd,
  yunet: decodeYunet,
};

/** Share of each side added as black border when a first pass finds nothing (tight face crops). */
const RETRY_PADDING = 0.3;
/** A detection with more than this share of its area inside a better one is a part of that face. */
const CONTAINED = 0.6;

/**
 * A face detector of any supported kind, run over the image at several scales (see planTiles), so
 * that the small faces of group photos and archive scans survive a fixed, small network input.
 */
export class FaceDetector {
  private constructor(
    private readonly model: OnnxModel,
    readonly spec: DetectorSpec,
  ) {}

  static async load(spec: DetectorSpec, runtime: RuntimeOptions = {}): Promise<FaceDetector> {
    return new FaceDetector(await OnnxModel.load(spec.file, runtime), spec);
  }

  /** Faces in `image`, in its pixel coordinates, best first. */
  async detect(image: RgbImage): Promise<Detection[]> {
    const found = await this.detectTiled(image);
    if (found.length > 0) return found;
    // Nothing found: tight crops (a face filling the whole frame, as in LFW-style photos) fool
    // detectors trained on faces with context around them. Add a border and look once more.
    return this.detectPadded(image);
  }

  /**
   * The finest level keeps whatever the network reports, and in a photo seen at its full size
   * that includes texture (a patterned tie) as "faces" of 8–18 px. Below half the smallest face
   * asked for (`minFaceSize`: the margin is for box conventions) nothing is a face worth having:
   * its 112 px crop would be a blur. Both sides count: this detector's face boxes are about
   * square, while the tie's dots came out 12–13 px wide and 16–18 px tall.
   */
  private bigEnough(found: Detection[]): Detection[] {
    const smallest = this.spec.tiling.minFaceSize / 2;
    return found.filter((d) => Math.min(d.box.x2 - d.box.x1, d.box.y2 - d.box.y1) >= smallest);
  }

  private async detectTiled(image: RgbImage): Promise<Detection[]> {
    const { width: netW, height: netH } = this.spec.input;
    const tiles = planTiles(image.width, image.height, netW, netH, this.spec.tiling);
    const all: Detection[] = [];
    for (const tile of tiles) all.push(...(await this.detectTile(image, tile)));
    return suppressContained(nms(this.bigEnough(all), this.spec.nmsIou), CONTAINED);
  }

  private async detectPadded(image: RgbImage): Promise<Detection[]> {
    const padX = Math.round(image.width * RETRY_PADDING), padY = Math.round(image.height * RETRY_PADDING);
    const data = await sharp(image.data, { raw: { width: image.width, height: image.height, channels: 3 } })
      .extend({ left: padX, right: padX, top: padY, bottom: padY, background: { r: 0, g: 0, b: 0 } })
      .raw()
      .toBuffer();
    const padded: RgbImage = { width: image.width + 2 * padX, height: image.height + 2 * padY, data: new Uint8Array(data) };
    const { width: netW, height: netH } = this.spec.input;
    const [whole] = planTiles(padded.width, padded.height, netW, netH, this.spec.tiling);
    const found = await this.detectTile(padded, { ...whole, minFace: 0 });
    return nms(this.bigEnough(found), this.spec.nmsIou).map((d) => shift(d, -padX, -padY, image));
  }

  /** Runs the network on one tile and maps what it keeps back to source pixels. */
  private async detectTile(image: RgbImage, tile: Tile): Promise<Detection[]> {
    const { width: netW, height: netH } = this.spec.input;
    const { region } = tile;
    const outW = Math.max(1, Math.min(netW, Math.round((region.x2 - region.x1) * tile.scale)));
    const outH = Math.max(1, Math.min(netH, Math.round((region.y2 - region.y1) * tile.scale)));
    const crop = await cropResize(image, region, outW, outH);
    const input = padTo(crop.image, netW, netH);
    const outputs = await this.model.run(toChwTensor(input, this.spec.pixels), [1, 3, netH, netW]);
    const raw = DECODERS[this.spec.kind](outputs, { width: netW, height: netH }, this.spec.scoreThreshold);

    const sx = (crop.region.x2 - crop.region.x1) / outW, sy = (crop.region.y2 - crop.region.y1) / outH;
    const edge = 2; // network pixels: a box this close to an inner tile edge is a cut face
    const kept: Detection[] = [];
    for (const d of raw) {
      const h = d.box.y2 - d.box.y1;
      if (h < tile.minFace || h > tile.maxFace) continue;
      const e = tile.innerEdges;
      if ((e.left && d.box.x1 < edge) || (e.top && d.box.y1 < edge) || (e.right && d.box.x2 > outW - edge) || (e.bottom && d.box.y2 > outH - edge)) {
        continue;
      }
      const map = (p: Point): Point => [crop.region.x1 + p[0] * sx, crop.region.y1 + p[1] * sy];
      const [x1, y1] = map([d.box.x1, d.box.y1]);
      const [x2, y2] = map([d.box.x2, d.box.y2]);
      kept.push({
        box: { x1: Math.max(0, x1), y1: Math.max(0, y1), x2: Math.min(x2, image.width), y2: Math.min(y2, image.height) },
        score: d.score,
        ...(d.landmarks ? { landmarks: d.landmarks.map(map) as Detection['landmarks'] } : {}),
      });
    }
    return kept;
  }

  async release(): Promise<void> {
    await this.model.release();
  }
}

/** Moves a detection found in a padded copy back into the original image, clamping its box. */
function shift(d: Detection, dx: number, dy: number, image: RgbImage): Detection {
  const clampX = (x: number) => Math.min(image.width, Math.max(0, x + dx));
  const clampY = (y: number) => Math.min(image.height, Math.max(0, y + dy));
  return {
    box: { x1: clampX(d.box.x1), y1: clampY(d.box.y1), x2: clampX(d.box.x2), y2: clampY(d.box.y2) },
    score: d.score,
    ...(d.landmarks ? { landmarks: d.landmarks.map(([x, y]) => [x + dx, y + dy]) as Detection['landmarks'] } : {}),
  };
}
