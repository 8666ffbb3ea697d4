import defaultManifestJson from '../manifests/faceplugin.json';
import { ARCFACE_TEMPLATE_112, affineScale, similarityTransform, sourceRegion, warpAffine } from './align';
import { FaceDetector } from './detector';
import { FaceEmbedder } from './embedder';
import { cropResize, decodeImage, decodeImageFile, DEFAULT_MAX_PIXELS } from './image';
import { Landmarker68, fivePointsFrom68 } from './landmarks';
import { loadManifestFile, parseManifest, verifyManifestFiles, type ModelManifest } from './manifest';
import type { RuntimeOptions } from './onnx';
import { faceQuality } from './quality';
import type { Box, FivePoints, Point, RgbImage } from './types';

export interface FaceEngineOptions extends RuntimeOptions {
  /** Models to use; the faceplugin set from npm when absent. */
  manifest?: ModelManifest;
  /** Refuse images with more pixels than this. Default 50 MP. */
  maxPixels?: number;
}

/** One face found in a photo, in the photo's pixel coordinates (after EXIF orientation). */
export interface Face {
  box: Box;
  /** Detector confidence in [0, 1]. */
  score: number;
  /** Left eye, right eye, nose tip, left and right mouth corners. */
  landmarks: FivePoints;
  /** Quality in [0, 1]: confidence × size × frontal-ness. */
  quality: number;
}

export interface EmbeddedFace extends Face {
  /** L2-normalised embedding. */
  embedding: Float32Array;
}

export interface PhotoFaces<F extends Face = Face> {
  width: number;
  height: number;
  faces: F[];
}

/** The faceplugin models shipped by the npm package `faceplugin-face-recognition-js`. */
export function defaultManifest(): ModelManifest {
  return parseManifest(defaultManifestJson);
}

/**
 * The models an operator chose: the manifest `file` (FACEPIPE_MODEL_MANIFEST, `--manifest`) or the
 * default one, looking for faces down to `minFaceSize` pixels when given (FACEPIPE_MIN_FACE_SIZE,
 * `--min-face`). The one place the service and the CLI turn those settings into a manifest.
 */
export function chosenManifest(opts: { file?: string; minFaceSize?: number } = {}): ModelManifest {
  const manifest = opts.file ? loadManifestFile(opts.file) : defaultManifest();
  if (opts.minFaceSize) manifest.detector.tiling.minFaceSize = opts.minFaceSize;
  return manifest;
}

/**
 * Detect → landmarks → align → embed, in-process. Holds one onnxruntime session per model,
 * created once; safe to share across concurrent calls.
 */
export class FaceEngine {
  private constructor(
    readonly manifest: ModelManifest,
    private readonly detector: FaceDetector,
    private readonly landmarker: Landmarker68 | null,
    private readonly embedder: FaceEmbedder,
    private readonly maxPixels: number,
  ) {}

  static async create(options: FaceEngineOptions = {}): Promise<FaceEngine> {
    const manifest = options.manifest ?? defaultManifest();
    await verifyManifestFiles(manifest);
    const lm = manifest.landmarks;
    const [detector, landmarker, embedder] = await Promise.all([
      FaceDetector.load(manifest.detector, options),
      lm.source === 'model' ? Landmarker68.load(lm, options) : Promise.resolve(null),
      FaceEmbedder.load(manifest.embedder, options),
    ]);
    return new FaceEngine(manifest, detector, landmarker, embedder, options.maxPixels ?? DEFAULT_MAX_PIXELS);
  }

  /** Cosine similarity at or above which two faces are the same person (manifest default). */
  get threshold(): number {
    return this.manifest.embedder.threshold;
  }

  decode(bytes: Buffer): Promise<RgbImage> {
    return decodeImage(bytes, { maxPixels: this.maxPixels });
  }

  decodeFile(path: string): Promise<RgbImage> {
    return decodeImageFile(path, { maxPixels: this.maxPixels });
  }

  /** Faces with boxes, five landmarks and quality, best detection first. */
  async detect(image: RgbImage): Promise<Face[]> {
    const detections = await this.detector.detect(image);
    const faces: Face[] = [];
    for (const d of detections) {
      const landmarks = this.landmarker
        ? fivePointsFrom68(await this.landmarker.landmarks68(image, d.box))
        : d.landmarks;
      if (!landmarks) throw new Error(`detector "${this.manifest.detector.kind}" gives no landmarks; configure a landmark model`);
      faces.push({ box: d.box, score: d.score, landmarks, quality: faceQuality(d.box, d.score, landmarks) });
    }
    return faces;
  }

  /** The face warped onto the embedder's template (112×112 RGB for ArcFace-type models). */
  async align(image: RgbImage, landmarks: FivePoints): Promise<RgbImage> {
    const { width, height } = this.manifest.embedder.input;
    const template = scaleTemplate(width, height);
    let m = similarityTransform(landmarks, template);
    const scale = affineScale(m);
    if (scale >= 0.5) return warpAffine(image, m, width, height);
    // A face much larger than the template: bilinear sampling would skip pixels and alias, so
    // shrink its neighbourhood with an area filter first, then warp at about 1:1.
    const region = sourceRegion(m, width, height);
    const side = { w: region.x2 - region.x1, h: region.y2 - region.y1 };
    const crop = await cropResize(image, region, Math.max(1, Math.round(side.w * scale)), Math.max(1, Math.round(side.h * scale)));
    const kx = crop.image.width / (crop.region.x2 - crop.region.x1), ky = crop.image.height / (crop.region.y2 - crop.region.y1);
    const local = landmarks.map(([x, y]) => [(x - crop.region.x1) * kx, (y - crop.region.y1) * ky]) as FivePoints;
    m = similarityTransform(local, template);
    return warpAffine(crop.image, m, width, height);
  }

  /** Embeddings of the given faces of `image`, in order. */
  async embed(image: RgbImage, faces: readonly Face[]): Promise<Float32Array[]> {
    const crops = await Promise.all(faces.map((f) => this.align(image, f.landmarks)));
    return this.embedder.embed(crops);
  }

  /** Embeddings of already aligned crops (what the embedder-worker receives). */
  embedAligned(crops: readonly RgbImage[]): Promise<Float32Array[]> {
    return this.embedder.embed(crops);
  }

  /** Decode, detect and (optionally) embed every face of one photo. */
  async analyze(bytes: Buffer | RgbImage, options: { embed: true }): Promise<PhotoFaces<EmbeddedFace>>;
  async analyze(bytes: Buffer | RgbImage, options?: { embed?: false }): Promise<PhotoFaces<Face>>;
  async analyze(input: Buffer | RgbImage, options: { embed?: boolean } = {}): Promise<PhotoFaces<Face | EmbeddedFace>> {
    const image = Buffer.isBuffer(input) ? await this.decode(input) : input;
    const faces = await this.detect(image);
    if (!options.embed) return { width: image.width, height: image.height, faces };
    const embeddings = await this.embed(image, faces);
    return { width: image.width, height: image.height, faces: faces.map((f, i) => ({ ...f, embedding: embeddings[i] })) };
  }

  async release(): Promise<void> {
    await Promise.all([this.detector.release(), this.landmarker?.release(), this.embedder.release()]);
  }
}

/** The ArcFace template scaled to an embedder input of another size (it is defined for 112×112). */
function scaleTemplate(width: number, height: number): FivePoints {
  return ARCFACE_TEMPLATE_112.map(([x, y]) => [(x * width) / 112, (y * height) / 112] as Point) as FivePoints;
}

/** The enrolment floor's default (FACEPIPE_ENROLL_MIN_QUALITY): below it a face is a poor reference. */
export const MAIN_FACE_MIN_QUALITY = 0.2;

/**
 * The face a photo is about: the largest by box area among those of at least `minQuality`, or
 * the largest of all when none is. By area alone a bystander cut off at the frame's edge can win:
 * a profile with a bigger box at quality 0.05 beside the subject's face at 0.23.
 */
export function mainFace<F extends Face>(faces: readonly F[], minQuality = MAIN_FACE_MIN_QUALITY): F | undefined {
  return largest(faces.filter((f) => f.quality >= minQuality)) ?? largest(faces);
}

function largest<F extends Face>(faces: readonly F[]): F | undefined {
  let best: F | undefined;
  let bestArea = -1;
  for (const f of faces) {
    const area = (f.box.x2 - f.box.x1) * (f.box.y2 - f.box.y1);
    if (area > bestArea) { best = f; bestArea = area; }
  }
  return best;
}
