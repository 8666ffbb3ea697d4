/**
 * One model output as the decoders see it. onnxruntime-node's `Tensor` fits this shape
 * structurally, so decoders stay pure (no runtime import) and tests can hand-build tensors.
 */
export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** A model's outputs by output name, as returned by `InferenceSession.run`. */
export type DecoderOutputs = Record<string, OutputTensor>;

/**
 * Number of rows (predictions) in a `[1, N, width]` or `[N, width]` output, after checking that
 * its last dimension is `width`. The detectors run one image at a time; a batch larger than 1
 * would silently decode only its first image, so it is refused instead.
 */
export function rowCount(tensor: OutputTensor, width: number, name: string): number {
  const { dims } = tensor;
  const n = dims[dims.length - 2];
  const batch = dims.length === 3 ? dims[0] : 1;
  if (dims[dims.length - 1] !== width || n === undefined || dims.length > 3 || batch !== 1 || tensor.data.length !== n * width) {
    throw new Error(`output "${name}" has shape [${dims.join(', ')}]; expected [1, N, ${width}] or [N, ${width}]`);
  }
  return n;
}
