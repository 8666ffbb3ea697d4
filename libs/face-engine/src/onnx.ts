import * as ort from 'onnxruntime-node';
import { FaceEngineError } from './errors';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface RuntimeOptions {
  /** Threads inside one operator (onnxruntime intra-op pool). Default: 1 per session. */
  intraOpThreads?: number;
  /** Execution provider; 'cuda' needs the CUDA build of onnxruntime-node (onnxruntime-node-install=cuda12). */
  executionProvider?: ExecutionProvider;
}

type GraphOptimization = 'all' | 'extended';

/** Timed runs per candidate when choosing a graph optimization level (after one warm-up run). */
const TUNING_RUNS = 5;
/** 'extended' must beat 'all' by this factor to be chosen: timing noise must not flip the choice. */
const TUNING_MARGIN = 0.8;

/** A loaded model: one onnxruntime session, created once and reused for every call. */
export class OnnxModel {
  private constructor(
    readonly file: string,
    private readonly session: ort.InferenceSession,
    /** The graph optimization level the session runs with (see load). */
    readonly optimization: GraphOptimization,
  ) {}

  /**
   * Loads the model. On the CPU, onnxruntime's top optimization level ('all', which adds layout
   * transformations such as NCHWc blocking) is not the fastest for every model on every CPU: on a
   * Xeon with AVX-512/AMX it made fr_feature 2.5× slower (75 vs 29 ms at 1 thread) while making
   * the detector 3× faster. So when the input shape is known, both 'all' and 'extended' are timed
   * on a few runs of a dummy input and the faster one is kept (a second or so at start-up).
   */
  static async load(file: string, options: RuntimeOptions = {}): Promise<OnnxModel> {
    const all = await OnnxModel.session(file, options, 'all');
    const shape = tuningShape(all);
    if (options.executionProvider === 'cuda' || !shape) return new OnnxModel(file, all, 'all');
    let extended: ort.InferenceSession | undefined;
    try {
      extended = await OnnxModel.session(file, options, 'extended');
      const [tAll, tExtended] = await fastestRunsMs([all, extended], shape);
      if (tExtended < TUNING_MARGIN * tAll) {
        await all.release();
        return new OnnxModel(file, extended, 'extended');
      }
    } catch {
      // A model that cannot load at that level, or run a dummy input, keeps the default; its real
      // inputs report their own errors.
    }
    await extended?.release();
    return new OnnxModel(file, all, 'all');
  }

  private static async session(file: string, options: RuntimeOptions, level: GraphOptimization): Promise<ort.InferenceSession> {
    const providers: ort.InferenceSession.ExecutionProviderConfig[] =
      options.executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
    try {
      return await ort.InferenceSession.create(file, {
        executionProviders: providers,
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: level,
      });
    } catch (err) {
      throw new FaceEngineError('MODEL_LOAD_FAILED', `cannot load model ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  get inputName(): string {
    return this.session.inputNames[0];
  }

  get outputNames(): readonly string[] {
    return this.session.outputNames;
  }

  /** The declared input shape; symbolic dimensions come back as strings. */
  get inputShape(): readonly (number | string)[] {
    const meta = this.session.inputMetadata[0];
    return meta && meta.isTensor ? meta.shape : [];
  }

  /** Runs the model on one float32 input tensor and returns its outputs by name. */
  async run(data: Float32Array, dims: readonly number[]): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await this.session.run({ [this.inputName]: new ort.Tensor('float32', data, dims) });
    } catch (err) {
      throw new FaceEngineError('INFERENCE_FAILED', `inference failed in ${this.file}: ${(err as Error).message}`, { cause: err });
    }
    const result: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
    for (const [name, tensor] of Object.entries(out)) {
      const t = tensor as ort.Tensor;
      result[name] = { data: t.data as Float32Array, dims: t.dims };
    }
    return result;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/**
 * The input shape to time a model with: its declared one, a symbolic batch dimension read as 1.
 * Null when another dimension is symbolic (a detector taking any image size): no dummy input would
 * stand for its real ones, so it is not tuned. Only single float32 inputs are tuned.
 */
function tuningShape(session: ort.InferenceSession): number[] | null {
  const meta = session.inputMetadata;
  if (meta.length !== 1 || !meta[0].isTensor || meta[0].type !== 'float32') return null;
  const shape = meta[0].shape.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : -1));
  return shape.length > 0 && shape.every((d) => d > 0) ? shape : null;
}

/**
 * The fastest of TUNING_RUNS runs of each session on one dummy input, the sessions taking turns:
 * other processes starting on the same cores at the same time (a worker fleet tuning together)
 * slow both alike, and the minimum is what the hardware can do.
 */
async function fastestRunsMs(sessions: ort.InferenceSession[], shape: number[]): Promise<number[]> {
  const size = shape.reduce((a, b) => a * b, 1);
  // Mid-grey with a little texture: zeros can take shortcuts real images do not.
  const data = Float32Array.from({ length: size }, (_, i) => ((i * 7919) % 255) / 255 - 0.5);
  const feeds = sessions.map((s) => ({ [s.inputNames[0]]: new ort.Tensor('float32', data, shape) }));
  for (let j = 0; j < sessions.length; j++) await sessions[j].run(feeds[j]); // warm-up
  const best = sessions.map(() => Infinity);
  for (let i = 0; i < TUNING_RUNS; i++) {
    for (let j = 0; j < sessions.length; j++) {
      const t = performance.now();
      await sessions[j].run(feeds[j]);
      best[j] = Math.min(best[j], performance.now() - t);
    }
  }
  return best;
}
