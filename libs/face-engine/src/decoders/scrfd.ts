import type { Detection, FivePoints } from '../types';
import { rowCount, type DecoderOutputs, type OutputTensor } from './decoder-outputs';

/**
 * Anchor centres of one SCRFD feature level, as interleaved [x0, y0, x1, y1, …] in input pixels.
 * Row-major over the feature map, each cell's centre repeated `anchorsPerCell` times in a row,
 * because that is the order of the network's predictions. Like InsightFace's scrfd.py the centre
 * of cell (x, y) is (x·stride, y·stride) — its top-left corner, no +0.5: the model was trained
 * with these points, so shifting them would shift every box by half a stride.
 */
export function anchorCenters(featureH: number, featureW: number, stride: number, anchorsPerCell: number): Float32Array {
  const out = new Float32Array(featureH * featureW * anchorsPerCell * 2);
  let i = 0;
  for (let y = 0; y < featureH; y++) {
    for (let x = 0; x < featureW; x++) {
      for (let a = 0; a < anchorsPerCell; a++) {
        out[i++] = x * stride;
        out[i++] = y * stride;
      }
    }
  }
  return out;
}

interface Level {
  stride: number;
  scores: OutputTensor;
  boxes: OutputTensor;
  kps?: OutputTensor;
}

/**
 * Sorts the outputs into feature levels. Exports name them differently (out0…out8, score_8, 448…),
 * so they are told apart by shape: last dimension 1 = scores, 4 = box distances, 10 = keypoints,
 * and within each kind the level with the most rows is the finest one, stride 8, then 16, 32 (and
 * 64, 128 for the five-level models).
 */
function levels(outputs: DecoderOutputs): Level[] {
  const byWidth = new Map<number, { t: OutputTensor; n: number }[]>([[1, []], [4, []], [10, []]]);
  for (const [name, t] of Object.entries(outputs)) {
    const width = t.dims[t.dims.length - 1];
    const group = byWidth.get(width);
    if (group) group.push({ t, n: rowCount(t, width, name) });
  }
  const [scores, boxes, kps] = [1, 4, 10].map((w) => byWidth.get(w)!.sort((a, b) => b.n - a.n));
  if (scores.length === 0 || boxes.length !== scores.length || (kps.length !== 0 && kps.length !== scores.length)) {
    throw new Error(
      `scrfd decoder needs one [1, N, 1] score, one [1, N, 4] box (and optionally one [1, N, 10] keypoint) output per stride; ` +
        `got ${scores.length} / ${boxes.length} / ${kps.length}`,
    );
  }
  return scores.map((s, i) => ({ stride: 8 << i, scores: s.t, boxes: boxes[i].t, kps: kps[i]?.t }));
}

/**
 * SCRFD (InsightFace) outputs → detections in input-tensor pixels, before NMS.
 * Scores are already sigmoid probabilities in the graph. Boxes are distances (left, top, right,
 * bottom) from the anchor centre and keypoints offsets from it, both in units of the stride.
 * The keypoints come out in FivePoints order (image-left eye first), as the model was trained.
 */
export function decodeScrfd(outputs: DecoderOutputs, input: { width: number; height: number }, scoreThreshold: number): Detection[] {
  const out: Detection[] = [];
  for (const { stride, scores, boxes, kps } of levels(outputs)) {
    const fh = Math.ceil(input.height / stride), fw = Math.ceil(input.width / stride);
    const n = scores.dims[scores.dims.length - 2];
    // Anchors per cell is not in the outputs' names; it follows from the row count (2 for the
    // three-level _kps models, 1 for the five-level ones).
    const anchors = n / (fh * fw);
    if (!Number.isInteger(anchors) || anchors < 1 || boxes.dims[boxes.dims.length - 2] !== n || (kps && kps.dims[kps.dims.length - 2] !== n)) {
      throw new Error(`scrfd stride ${stride}: ${n} rows do not fit a ${fw}×${fh} feature map of a ${input.width}×${input.height} input`);
    }
    const centers = anchorCenters(fh, fw, stride, anchors);
    for (let i = 0; i < n; i++) {
      const score = scores.data[i];
      if (score < scoreThreshold) continue;
      const cx = centers[2 * i], cy = centers[2 * i + 1];
      const d = boxes.data.subarray(4 * i, 4 * i + 4);
      const det: Detection = {
        box: { x1: cx - d[0] * stride, y1: cy - d[1] * stride, x2: cx + d[2] * stride, y2: cy + d[3] * stride },
        score,
      };
      if (kps) {
        const k = kps.data.subarray(10 * i, 10 * i + 10);
        det.landmarks = [0, 1, 2, 3, 4].map((j) => [cx + k[2 * j] * stride, cy + k[2 * j + 1] * stride]) as FivePoints;
      }
      out.push(det);
    }
  }
  return out;
}
