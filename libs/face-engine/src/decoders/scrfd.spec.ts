import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { nms } from '../nms';
import { SHARED_MODELS_DIR, demoPhoto, expectPlausibleFace } from '../testing';
import type { Detection } from '../types';
import type { DecoderOutputs, OutputTensor } from './decoder-outputs';
import { anchorCenters, decodeScrfd } from './scrfd';

const tensor = (rows: number, width: number): OutputTensor => ({ data: new Float32Array(rows * width), dims: [1, rows, width] });

/**
 * Zeroed SCRFD outputs for a `size`×`size` input (strides 8/16/32, `anchors` per cell), named as
 * the real export names them: out0..2 scores, out3..5 boxes, out6..8 keypoints.
 */
function emptyOutputs(size: number, anchors = 2): DecoderOutputs {
  const rows = [8, 16, 32].map((s) => (size / s) ** 2 * anchors);
  const out: DecoderOutputs = {};
  rows.forEach((n, i) => {
    out[`out${i}`] = tensor(n, 1);
    out[`out${i + 3}`] = tensor(n, 4);
    out[`out${i + 6}`] = tensor(n, 10);
  });
  return out;
}

/** Sets one prediction: `level` 0/1/2 = stride 8/16/32, `row` = (y·W + x)·anchors + anchor. */
function setRow(out: DecoderOutputs, level: number, row: number, score: number, box: number[], kps: number[]): void {
  out[`out${level}`].data[row] = score;
  out[`out${level + 3}`].data.set(box, row * 4);
  out[`out${level + 6}`].data.set(kps, row * 10);
}

// Stride 16 on a 64×64 input is a 4×4 map; cell (x 2, y 1), second anchor → row (1·4 + 2)·2 + 1 = 13,
// anchor centre (2·16, 1·16) = (32, 16).
const HOT = { level: 1, row: 13, score: 0.75, box: [1, 0.5, 2, 1.5], kps: [-0.5, -0.25, 0.5, -0.25, 0, 0.25, -0.25, 0.75, 0.25, 0.75] };
const HOT_DETECTION: Detection = {
  box: { x1: 32 - 16, y1: 16 - 8, x2: 32 + 32, y2: 16 + 24 },
  score: 0.75,
  landmarks: [
    [24, 12],
    [40, 12],
    [32, 20],
    [28, 28],
    [36, 28],
  ],
};

describe('anchorCenters', () => {
  it('lists cell corners row-major, each repeated once per anchor, without a half-stride shift', () => {
    expect(Array.from(anchorCenters(2, 3, 8, 2))).toEqual([
      0, 0, 0, 0, 8, 0, 8, 0, 16, 0, 16, 0,
      0, 8, 0, 8, 8, 8, 8, 8, 16, 8, 16, 8,
    ]);
  });

  it('handles one anchor per cell', () => {
    expect(Array.from(anchorCenters(2, 2, 32, 1))).toEqual([0, 0, 32, 0, 0, 32, 32, 32]);
  });
});

describe('decodeScrfd (synthetic outputs)', () => {
  const input = { width: 64, height: 64 };

  it('decodes one hot prediction to the hand-computed box and keypoints', () => {
    const out = emptyOutputs(64);
    setRow(out, HOT.level, HOT.row, HOT.score, HOT.box, HOT.kps);
    expect(decodeScrfd(out, input, 0.5)).toEqual([HOT_DETECTION]);
  });

  it('keeps scores at or above the threshold and drops the rest', () => {
    const out = emptyOutputs(64);
    setRow(out, HOT.level, HOT.row, HOT.score, HOT.box, HOT.kps);
    setRow(out, 0, 0, 0.5, [1, 1, 1, 1], new Array(10).fill(0)); // stride 8, centre (0, 0)
    setRow(out, 2, 7, 0.25, [1, 1, 1, 1], new Array(10).fill(0));
    expect(decodeScrfd(out, input, 0.6)).toHaveLength(1);
    const two = decodeScrfd(out, input, 0.5);
    expect(two.map((d) => d.score)).toEqual([0.5, 0.75]);
    expect(two[0].box).toEqual({ x1: -8, y1: -8, x2: 8, y2: 8 });
    expect(decodeScrfd(out, input, 0.2)).toHaveLength(3);
    expect(decodeScrfd(emptyOutputs(64), input, 0.5)).toEqual([]);
  });

  it('identifies the tensors by shape, whatever their names and order', () => {
    const out = emptyOutputs(64);
    setRow(out, HOT.level, HOT.row, HOT.score, HOT.box, HOT.kps);
    const renamed: DecoderOutputs = {};
    for (const [i, key] of ['out8', 'out4', 'out0', 'out5', 'out1', 'out7', 'out3', 'out2', 'out6'].entries()) {
      renamed[`t${i}`] = out[key];
    }
    expect(decodeScrfd(renamed, input, 0.5)).toEqual([HOT_DETECTION]);
  });

  it('accepts outputs without a batch dimension', () => {
    const out = emptyOutputs(64);
    setRow(out, HOT.level, HOT.row, HOT.score, HOT.box, HOT.kps);
    for (const t of Object.values(out)) t.dims = t.dims.slice(1);
    expect(decodeScrfd(out, input, 0.5)).toEqual([HOT_DETECTION]);
  });

  it('infers one anchor per cell from the row counts', () => {
    const out = emptyOutputs(64, 1);
    // stride 16, cell (x 2, y 1) → row 1·4 + 2 = 6
    setRow(out, 1, 6, HOT.score, HOT.box, HOT.kps);
    expect(decodeScrfd(out, input, 0.5)).toEqual([HOT_DETECTION]);
  });

  it('decodes boxes only when the model has no keypoint outputs', () => {
    const out = emptyOutputs(64);
    setRow(out, HOT.level, HOT.row, HOT.score, HOT.box, HOT.kps);
    for (const k of ['out6', 'out7', 'out8']) delete out[k];
    const [d] = decodeScrfd(out, input, 0.5);
    expect(d.box).toEqual(HOT_DETECTION.box);
    expect(d.landmarks).toBeUndefined();
  });

  it('refuses outputs that do not fit the input size or are incomplete', () => {
    expect(() => decodeScrfd(emptyOutputs(64), { width: 640, height: 640 }, 0.5)).toThrow(/do not fit/);
    const missing = emptyOutputs(64);
    delete missing['out4'];
    expect(() => decodeScrfd(missing, input, 0.5)).toThrow(/per stride/);
    const batched = emptyOutputs(64);
    batched['out0'] = { data: new Float32Array(256), dims: [2, 128, 1] };
    expect(() => decodeScrfd(batched, input, 0.5)).toThrow(/shape \[2, 128, 1\]/);
  });
});

const modelsDir = SHARED_MODELS_DIR;
const photo = demoPhoto;
const MODELS = ['scrfd_500m_kps.onnx', 'scrfd_2.5g_kps.onnx'];
const haveModels = MODELS.every((m) => fs.existsSync(path.join(modelsDir, m)));
if (!haveModels) console.warn(`scrfd real-model tests skipped: ${MODELS.join(', ')} not all in ${modelsDir} (models live outside the repo, in ../shared/models)`);
const describeIfModels = haveModels ? describe : describe.skip;

const SIZE = 640;

/** SCRFD preprocessing: letterbox (scale to fit, top-left, black padding), RGB, (px − 127.5) / 128. */
async function letterbox(file: string): Promise<{ tensor: ort.Tensor; scale: number }> {
  const meta = await sharp(file).metadata();
  const scale = Math.min(SIZE / meta.width!, SIZE / meta.height!);
  const w = Math.round(meta.width! * scale), h = Math.round(meta.height! * scale);
  const rgb = await sharp(file)
    .removeAlpha()
    .resize(w, h, { fit: 'fill' })
    .extend({ right: SIZE - w, bottom: SIZE - h, background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer();
  const plane = SIZE * SIZE;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[c * plane + i] = (rgb[i * 3 + c] - 127.5) / 128;
  return { tensor: new ort.Tensor('float32', data, [1, 3, SIZE, SIZE]), scale };
}

describeIfModels.each(MODELS)('decodeScrfd on %s', (model) => {
  let session: ort.InferenceSession;
  beforeAll(async () => {
    session = await ort.InferenceSession.create(path.join(modelsDir, model));
  });
  afterAll(async () => {
    await session?.release();
  });

  it.each([
    ['sample1.jpg', 3],
    ['sample6.jpg', 4],
  ])('finds the faces of %s with sane keypoints', async (file, faces) => {
    const { tensor, scale } = await letterbox(photo(file));
    const outputs = await session.run({ [session.inputNames[0]]: tensor });
    const found = nms(decodeScrfd(outputs as unknown as DecoderOutputs, { width: SIZE, height: SIZE }, 0.3), 0.4).filter((d) => d.score > 0.5);
    expect(found).toHaveLength(faces);
    const meta = await sharp(photo(file)).metadata();
    for (const d of found) {
      expectPlausibleFace(d);
      // Faces in these photos are 180–300 px tall; the box must be inside the (unpadded) image.
      expect((d.box.y2 - d.box.y1) / scale).toBeGreaterThan(150);
      expect(d.box.x2 / scale).toBeLessThanOrEqual(meta.width! + 1);
      expect(d.box.y2 / scale).toBeLessThanOrEqual(meta.height! + 1);
    }
  });
});
