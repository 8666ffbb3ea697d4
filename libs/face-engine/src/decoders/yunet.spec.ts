import fs from 'node:fs';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { nms } from '../nms';
import type { Detection } from '../types';
import { SHARED_MODELS_DIR, demoPhoto, expectPlausibleFace } from '../testing';
import type { DecoderOutputs } from './decoder-outputs';
import { decodeYunet } from './yunet';

const STRIDES = [8, 16, 32];

/** Zeroed YuNet outputs for a width×height input, named as the libfacedetection export names them. */
function emptyOutputs(width: number, height: number): DecoderOutputs {
  const out: DecoderOutputs = {};
  for (const [part, w] of [['cls', 1], ['obj', 1], ['bbox', 4], ['kps', 10]] as const) {
    for (const s of STRIDES) {
      const rows = (width / s) * (height / s);
      out[`${part}_${s}`] = { data: new Float32Array(rows * w), dims: [1, rows, w] };
    }
  }
  return out;
}

function setCell(out: DecoderOutputs, stride: number, index: number, cls: number, obj: number, bbox: number[], kps: number[]): void {
  out[`cls_${stride}`].data[index] = cls;
  out[`obj_${stride}`].data[index] = obj;
  out[`bbox_${stride}`].data.set(bbox, index * 4);
  out[`kps_${stride}`].data.set(kps, index * 10);
}

// 64×32 input, stride 8 → 8 columns × 4 rows; cell (row 2, column 5) → index 2·8 + 5 = 21.
// score √(0.5625·1) = 0.75; centre ((5 + 0.5)·8, (2 + 0.25)·8) = (44, 18); size (e⁰·8, e⁰·8) = 8×8.
const HOT = { stride: 8, index: 21, cls: 0.5625, obj: 1, bbox: [0.5, 0.25, 0, 0], kps: [0, 0, 1, 0, 0.5, 0.5, 0.25, 1, 0.75, 1] };
const HOT_DETECTION: Detection = {
  box: { x1: 40, y1: 14, x2: 48, y2: 22 },
  score: 0.75,
  landmarks: [
    [40, 16],
    [48, 16],
    [44, 20],
    [42, 24],
    [46, 24],
  ],
};

describe('decodeYunet (synthetic outputs)', () => {
  const input = { width: 64, height: 32 };

  it('decodes one hot cell to the hand-computed box and keypoints', () => {
    const out = emptyOutputs(64, 32);
    setCell(out, HOT.stride, HOT.index, HOT.cls, HOT.obj, HOT.bbox, HOT.kps);
    expect(decodeYunet(out, input, 0.5)).toEqual([HOT_DETECTION]);
  });

  it('takes width and height as exp(log-size) × stride', () => {
    const out = emptyOutputs(64, 32);
    // stride 16 → 4 columns × 2 rows; cell (row 1, column 2) → index 6, centre (2·16, 1·16) = (32, 16)
    setCell(out, 16, 6, 1, 1, [0, 0, Math.log(2), Math.log(0.5)], new Array(10).fill(0));
    const [d] = decodeYunet(out, input, 0.5);
    expect(d.box.x1).toBeCloseTo(32 - 16, 4);
    expect(d.box.x2).toBeCloseTo(32 + 16, 4);
    expect(d.box.y1).toBeCloseTo(16 - 4, 4);
    expect(d.box.y2).toBeCloseTo(16 + 4, 4);
    expect(d.landmarks![0]).toEqual([32, 16]);
  });

  it('scores √(cls·obj) with both clamped to [0, 1], and filters by the threshold', () => {
    const out = emptyOutputs(64, 32);
    setCell(out, HOT.stride, HOT.index, HOT.cls, HOT.obj, HOT.bbox, HOT.kps); // 0.75
    setCell(out, 16, 0, 1.5, 0.25, [0, 0, 0, 0], new Array(10).fill(0)); // √(1·0.25) = 0.5
    setCell(out, 32, 1, -0.5, 1, [0, 0, 0, 0], new Array(10).fill(0)); // √(0·1) = 0
    expect(decodeYunet(out, input, 0.6).map((d) => d.score)).toEqual([0.75]);
    expect(decodeYunet(out, input, 0.5).map((d) => d.score)).toEqual([0.75, 0.5]);
    expect(decodeYunet(out, input, 0)).toHaveLength(32 + 8 + 2); // every cell scores ≥ 0
  });

  it('finds each tensor by its name, whatever the output order', () => {
    const out = emptyOutputs(64, 32);
    setCell(out, HOT.stride, HOT.index, HOT.cls, HOT.obj, HOT.bbox, HOT.kps);
    const shuffled: DecoderOutputs = {};
    for (const key of Object.keys(out).reverse()) shuffled[key] = out[key];
    shuffled['unrelated'] = { data: new Float32Array(3), dims: [1, 3] };
    expect(decodeYunet(shuffled, input, 0.5)).toEqual([HOT_DETECTION]);
  });

  it('refuses incomplete outputs and outputs that do not fit the input size', () => {
    const missing = emptyOutputs(64, 32);
    delete missing['kps_16'];
    expect(() => decodeYunet(missing, input, 0.5)).toThrow(/kps_S/);
    expect(() => decodeYunet(emptyOutputs(64, 32), { width: 32, height: 64 }, 0.5)).not.toThrow(); // same cell counts
    expect(() => decodeYunet(emptyOutputs(64, 32), { width: 64, height: 64 }, 0.5)).toThrow(/do not fit/);
    const wrongWidth = emptyOutputs(64, 32);
    wrongWidth['bbox_8'] = { data: new Float32Array(32 * 5), dims: [1, 32, 5] };
    expect(() => decodeYunet(wrongWidth, input, 0.5)).toThrow(/bbox_8/);
  });
});

const modelsDir = SHARED_MODELS_DIR;
const photo = demoPhoto;
const MODELS = ['yunet_s_dynamic.onnx', 'yunet_n_320_320.onnx'];
const haveModels = MODELS.every((m) => fs.existsSync(path.join(modelsDir, m)));
if (!haveModels) console.warn(`yunet real-model tests skipped: ${MODELS.join(', ')} not all in ${modelsDir} (models live outside the repo, in ../shared/models)`);
const describeIfModels = haveModels ? describe : describe.skip;

/**
 * YuNet preprocessing: BGR, raw 0..255. The dynamic model takes any H, W that are multiples of 32:
 * scale the longer side to `maxSide` keeping the aspect, then pad right/bottom with black to the
 * next multiple of 32 (as OpenCV's padWithDivisor). The fixed model is letterboxed to its size.
 */
async function prepare(file: string, fixed?: number): Promise<{ tensor: ort.Tensor; width: number; height: number; scale: number }> {
  const meta = await sharp(file).metadata();
  const maxSide = fixed ?? 640;
  const scale = maxSide / Math.max(meta.width!, meta.height!);
  const w = Math.round(meta.width! * scale), h = Math.round(meta.height! * scale);
  const width = fixed ?? Math.ceil(w / 32) * 32, height = fixed ?? Math.ceil(h / 32) * 32;
  const rgb = await sharp(file)
    .removeAlpha()
    .resize(w, h, { fit: 'fill' })
    .extend({ right: width - w, bottom: height - h, background: { r: 0, g: 0, b: 0 } })
    .raw()
    .toBuffer();
  const plane = width * height;
  const data = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) data[(2 - c) * plane + i] = rgb[i * 3 + c];
  return { tensor: new ort.Tensor('float32', data, [1, 3, height, width]), width, height, scale };
}

/**
 * YuNet scores true faces higher than SCRFD (0.87–0.94 here) but also gives a blurred, dark
 * background object in sample1 (left, x≈140–310, y≈620–800) 0.59–0.74 with the s model at
 * 640 px and above, so "a face" is score > 0.8 here rather than 0.5. OpenCV's own demo uses 0.9.
 */
const MIN_SCORE = 0.8;

describeIfModels.each([
  ['yunet_s_dynamic.onnx', undefined],
  ['yunet_n_320_320.onnx', 320],
])('decodeYunet on %s', (model, fixed) => {
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
    const { tensor, width, height, scale } = await prepare(photo(file), fixed);
    const outputs = await session.run({ [session.inputNames[0]]: tensor });
    const found = nms(decodeYunet(outputs as unknown as DecoderOutputs, { width, height }, 0.3), 0.4).filter((d) => d.score > MIN_SCORE);
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
