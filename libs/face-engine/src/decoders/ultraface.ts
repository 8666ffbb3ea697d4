import type { Detection } from '../types';
import { rowCount, type DecoderOutputs } from './decoder-outputs';

/**
 * UltraFace-type detector (faceplugin fr_detect): `scores` [1, N, 2] (softmax: background, face)
 * and `boxes` [1, N, 4]. The graph decodes its boxes itself — they are corners (x1, y1, x2, y2)
 * normalised to the input size, with priors baked in for the fixed 320×240 input (checked: the
 * values fall in [0, 1] around faces; the reference JS computes priors but then scales the raw
 * `boxes` and never uses them). So decoding is a threshold and a scale to input pixels.
 */
export function decodeUltraface(
  outputs: DecoderOutputs,
  input: { width: number; height: number },
  scoreThreshold: number,
): Detection[] {
  const scores = outputs['scores'];
  const boxes = outputs['boxes'];
  if (!scores || !boxes) throw new Error('ultraface decoder needs outputs "scores" and "boxes"');
  const n = rowCount(boxes, 4, 'boxes');
  if (rowCount(scores, 2, 'scores') !== n) throw new Error(`ultraface outputs disagree: ${n} boxes but ${rowCount(scores, 2, 'scores')} score rows`);
  const out: Detection[] = [];
  for (let i = 0; i < n; i++) {
    const score = scores.data[i * 2 + 1];
    if (score < scoreThreshold) continue;
    const b = boxes.data.subarray(i * 4, i * 4 + 4);
    const x1 = b[0] * input.width, y1 = b[1] * input.height, x2 = b[2] * input.width, y2 = b[3] * input.height;
    if (x2 <= x1 || y2 <= y1) continue;
    out.push({ box: { x1, y1, x2, y2 }, score });
  }
  return out;
}
