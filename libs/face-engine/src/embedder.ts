import { FaceEngineError } from './errors';
import type { EmbedderSpec } from './manifest';
import { OnnxModel, type RuntimeOptions } from './onnx';
import { l2Normalize } from './similarity';
import { flipHorizontal, toChwTensor } from './tensor';
import type { RgbImage } from './types';

/**
 * Face embedder on aligned crops. Models with a dynamic batch dimension get one run per call;
 * fixed-batch models (fr_feature is 1×3×112×112) get one run per crop.
 */
export class FaceEmbedder {
  readonly maxBatch: number;

  private constructor(
    private readonly model: OnnxModel,
    readonly spec: EmbedderSpec,
  ) {
    const batchDim = model.inputShape[0];
    this.maxBatch = typeof batchDim === 'number' && batchDim > 0 ? batchDim : Infinity;
  }

  static async load(spec: EmbedderSpec, runtime: RuntimeOptions = {}): Promise<FaceEmbedder> {
    const embedder = new FaceEmbedder(await OnnxModel.load(spec.file, runtime), spec);
    // One blank crop now: a manifest that does not describe its model (another `dim`, another
    // input, a detector's file) stops the process at start rather than failing every face.
    const { width, height } = spec.input;
    await embedder.embed([{ width, height, data: new Uint8Array(3 * width * height) }]).catch((err: unknown) => {
      if (err instanceof FaceEngineError && err.code === 'MODEL_MANIFEST_INVALID') throw err;
      throw new FaceEngineError('MODEL_MANIFEST_INVALID', `embedder ${spec.file} does not run as the manifest describes it: ${(err as Error).message}`, { cause: err });
    });
    return embedder;
  }

  /** L2-normalised embeddings of aligned crops, in order. */
  async embed(crops: readonly RgbImage[]): Promise<Float32Array[]> {
    // With flip test-time augmentation each crop is run twice: as is, and mirrored.
    const inputs = this.spec.flip ? crops.flatMap((c) => [c, flipHorizontal(c)]) : [...crops];
    const raw: Float32Array[] = [];
    const step = Math.min(this.maxBatch, inputs.length || 1);
    for (let i = 0; i < inputs.length; i += step) raw.push(...(await this.runBatch(inputs.slice(i, i + step))));
    if (!this.spec.flip) return raw.map(l2Normalize);
    return crops.map((_, i) => {
      const sum = new Float32Array(this.spec.dim);
      const a = l2Normalize(raw[2 * i]), b = l2Normalize(raw[2 * i + 1]);
      for (let k = 0; k < sum.length; k++) sum[k] = a[k] + b[k];
      return l2Normalize(sum);
    });
  }

  private async runBatch(batch: RgbImage[]): Promise<Float32Array[]> {
    const { width, height } = this.spec.input;
    const plane = 3 * width * height;
    const data = new Float32Array(plane * batch.length);
    batch.forEach((crop, i) => {
      if (crop.width !== width || crop.height !== height) throw new Error(`crop must be ${width}×${height}`);
      toChwTensor(crop, this.spec.pixels, data, i * plane);
    });
    const outputs = await this.model.run(data, [batch.length, 3, height, width]);
    const out = Object.values(outputs)[0];
    const dim = out.data.length / batch.length;
    if (dim !== this.spec.dim) {
      throw new FaceEngineError('MODEL_MANIFEST_INVALID', `embedder gives ${dim}-d vectors, manifest says ${this.spec.dim}`);
    }
    return batch.map((_, i) => out.data.slice(i * dim, (i + 1) * dim));
  }

  async release(): Promise<void> {
    await this.model.release();
  }
}
