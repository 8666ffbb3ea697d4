import type { Detection, FivePoints } from '../types';
import { rowCount, type DecoderOutputs, type OutputTensor } from './decoder-outputs';

interface Level {
  stride: number;
  cls: OutputTensor;
  obj: OutputTensor;
  bbox: OutputTensor;
  kps: OutputTensor;
}

const PARTS = ['cls', 'obj', 'bbox', 'kps'] as const;
const WIDTH = { cls: 1, obj: 1, bbox: 4, kps: 10 } as const;

/**
 * Groups the outputs by stride. cls and obj have the same shape, so unlike SCRFD the names must
 * be used: `<part>_<stride>` as exported by libfacedetection.train and read by OpenCV. The stride
 * is taken from the name, so the order of the outputs does not matter.
 */
function levels(outputs: DecoderOutputs): Level[] {
  const byStride = new Map<number, Partial<Level>>();
  for (const [name, t] of Object.entries(outputs)) {
    const m = /^(cls|obj|bbox|kps)_(\d+)$/.exec(name);
    if (!m) continue;
    const part = m[1] as (typeof PARTS)[number];
    const stride = Number(m[2]);
    rowCount(t, WIDTH[part], name);
    const level = byStride.get(stride) ?? { stride };
    level[part] = t;
    byStride.set(stride, level);
  }
  const complete = [...byStride.values()].filter((l): l is Level => PARTS.every((p) => l[p] !== undefined));
  if (complete.length === 0 || complete.length !== byStride.size) {
    throw new Error(`yunet decoder needs outputs cls_S, obj_S, bbox_S and kps_S for every stride S; got ${Object.keys(outputs).join(', ')}`);
  }
  return complete.sort((a, b) => a.stride - b.stride);
}

/**
 * YuNet (libfacedetection / OpenCV FaceDetectorYN, anchor-free multi-stride version) outputs →
 * detections in input-tensor pixels, before NMS. Follows OpenCV's face_detect.cpp: one prediction
 * per feature-map cell, row-major; score = √(cls·obj) with both clamped to [0, 1] (the geometric
 * mean keeps the score on the probability scale of either factor); box centre = (cell + offset)·stride,
 * size = exp(log-size)·stride; keypoints = (cell + offset)·stride. The keypoints come out as right
 * eye, left eye, … of the *person* (OpenCV's names), i.e. image-left eye first: FivePoints order.
 */
export function decodeYunet(outputs: DecoderOutputs, input: { width: number; height: number }, scoreThreshold: number): Detection[] {
  const out: Detection[] = [];
  for (const { stride, cls, obj, bbox, kps } of levels(outputs)) {
    const cols = Math.ceil(input.width / stride), rows = Math.ceil(input.height / stride);
    const n = cls.dims[cls.dims.length - 2];
    if ([cls, obj, bbox, kps].some((t) => t.dims[t.dims.length - 2] !== rows * cols)) {
      throw new Error(`yunet stride ${stride}: ${n} rows do not fit a ${cols}×${rows} feature map of a ${input.width}×${input.height} input`);
    }
    for (let r = 0, i = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++, i++) {
        const score = Math.sqrt(clamp01(cls.data[i]) * clamp01(obj.data[i]));
        if (score < scoreThreshold) continue;
        const b = bbox.data.subarray(4 * i, 4 * i + 4);
        const cx = (c + b[0]) * stride, cy = (r + b[1]) * stride;
        const w = Math.exp(b[2]) * stride, h = Math.exp(b[3]) * stride;
        const k = kps.data.subarray(10 * i, 10 * i + 10);
        out.push({
          box: { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 },
          score,
          landmarks: [0, 1, 2, 3, 4].map((j) => [(c + k[2 * j]) * stride, (r + k[2 * j + 1]) * stride]) as FivePoints,
        });
      }
    }
  }
  return out;
}

function clamp01(v: number): number {
  return Math.min(1, Math.max(0, v));
}
