import * as ort from 'onnxruntime-node';
import { FaceEngineError } from './errors';

export type ExecutionProvider = 'cpu' | 'cuda';

export interface RuntimeOptions {
  /** Threads inside one operator (onnxruntime intra-op pool). Default: 1 per session. */
  intraOpThreads?: number;
  /** Execution provider; 'cuda' needs the CUDA build of onnxruntime-node (onnxruntime-node-install=cuda12). */
  executionProvider?: ExecutionProvider;
}

/** A loaded model: one onnxruntime session, created once and reused for every call. */
export class OnnxModel {
  private constructor(
    readonly file: string,
    private readonly session: ort.InferenceSession,
  ) {}

  static async load(file: string, options: RuntimeOptions = {}): Promise<OnnxModel> {
    const providers: ort.InferenceSession.ExecutionProviderConfig[] =
      options.executionProvider === 'cuda' ? ['cuda', 'cpu'] : ['cpu'];
    try {
      const session = await ort.InferenceSession.create(file, {
        executionProviders: providers,
        intraOpNumThreads: options.intraOpThreads ?? 1,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      });
      return new OnnxModel(file, session);
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
