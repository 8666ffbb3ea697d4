/**
 * Integration tests on the real default models (from the faceplugin npm package) and the real demo
 * photos (from @vladmandic/face-api): nothing here is mocked.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import sharp from 'sharp';
import { FaceEngine, chosenManifest, defaultManifest, mainFace, type Face } from './face-engine';
import { FaceDetector } from './detector';
import { FaceEmbedder } from './embedder';
import { cosineSimilarity } from './similarity';
import { parseManifest } from './manifest';
import { decodeImage } from './image';
import { SHARED_DIR, demoPhoto, expectPlausibleFace } from './testing';

const demo = (i: number) => demoPhoto(`sample${i}.jpg`);
/** Faces a person counts in sample1…6 (checked by eye). */
const DEMO_FACES = [3, 3, 3, 4, 5, 4];

let engine: FaceEngine;
beforeAll(async () => {
  engine = await FaceEngine.create({ intraOpThreads: 2 });
});
afterAll(async () => {
  await engine?.release();
});

describe('detection on the demo group photos', () => {
  it('finds every face (22) with no false face', async () => {
    const counts: number[] = [];
    for (let i = 1; i <= 6; i++) {
      const photo = await engine.analyze(readFileSync(demo(i)));
      counts.push(photo.faces.length);
      for (const f of photo.faces) expectPlausibleFace(f);
    }
    expect(counts).toEqual(DEMO_FACES);
  });

  it('finds small faces that one whole-image pass misses (multi-scale tiling)', async () => {
    // Six demo photos shrunk to 384 px wide (faces ≈ 45–60 px) on a 4200×2000 canvas.
    const tiles = await Promise.all(
      DEMO_FACES.map(async (_, i) => ({
        input: await sharp(demo(i + 1)).resize(384).toBuffer(),
        left: 200 + (i % 3) * 1300,
        top: 300 + Math.floor(i / 3) * 900,
      })),
    );
    const scan = await sharp({ create: { width: 4200, height: 2000, channels: 3, background: '#808080' } })
      .composite(tiles)
      .jpeg()
      .toBuffer();
    const image = await decodeImage(scan);
    const tiled = await engine.detect(image);
    expect(tiled.length).toBe(22);

    const spec = defaultManifest().detector;
    const single = await FaceDetector.load({ ...spec, tiling: { ...spec.tiling, minFaceSize: 1e9 } });
    try {
      expect((await single.detect(image)).length).toBeLessThan(5);
    } finally {
      await single.release();
    }
  });

  it('drops what is under half the smallest face asked for (texture seen at full size), keeps what is above', async () => {
    // sample1's first face with 30% around it, shrunk until the face is `height` px, on a grey page.
    const tiny = async (height: number) => {
      const [x, y, w, h] = [823, 423, 216, 230];
      const around = await sharp(demo(1)).extract({ left: Math.round(x - 0.3 * w), top: Math.round(y - 0.3 * h), width: Math.round(1.6 * w), height: Math.round(1.6 * h) })
        .resize(Math.round((1.6 * w * height) / h)).toBuffer();
      return sharp({ create: { width: 640, height: 480, channels: 3, background: { r: 128, g: 128, b: 128 } } })
        .composite([{ input: around, left: 300, top: 200 }]).jpeg({ quality: 95 }).toBuffer();
    };
    const small = await tiny(14); // the detector finds it, at about 13 px
    expect((await engine.analyze(small)).faces).toEqual([]); // default smallest face 32: nothing under 16 px
    const closer = await FaceEngine.create({ manifest: chosenManifest({ minFaceSize: 16 }), intraOpThreads: 2 });
    try {
      const [face, ...others] = (await closer.analyze(small)).faces;
      expect(others).toEqual([]);
      expect(face.box.y2 - face.box.y1).toBeLessThan(16);
    } finally {
      await closer.release();
    }
    const [kept] = (await engine.analyze(await tiny(20))).faces;
    expect(kept.box.y2 - kept.box.y1).toBeGreaterThanOrEqual(16);
    // The same in a photo that small (the second, padded look for tight crops).
    const photoOfIt = await sharp(small).extract({ left: 290, top: 190, width: 40, height: 40 }).toBuffer();
    expect((await engine.analyze(photoOfIt)).faces).toEqual([]);
  });

  it('reports coordinates after EXIF orientation', async () => {
    const upright = await sharp(demo(1)).resize(960).jpeg().toBuffer();
    // The same pixels stored rotated 90° counter-clockwise, with EXIF orientation 6 saying "rotate
    // 90° clockwise to display": a viewer shows the upright photo.
    const stored = await sharp(upright).rotate(-90).withMetadata({ orientation: 6 }).jpeg().toBuffer();
    const a = await engine.analyze(upright);
    const b = await engine.analyze(stored);
    expect([b.width, b.height]).toEqual([a.width, a.height]);
    expect(b.faces.length).toBe(a.faces.length);
    const byX = (fs: Face[]) => [...fs].sort((p, q) => p.box.x1 - q.box.x1);
    byX(b.faces).forEach((f, i) => {
      const g = byX(a.faces)[i];
      expect(Math.abs(f.box.x1 - g.box.x1)).toBeLessThan(6);
      expect(Math.abs(f.box.y1 - g.box.y1)).toBeLessThan(6);
    });
  });

  it('finds a face that fills the whole frame (tight crop)', async () => {
    const photo = await engine.analyze(readFileSync(demo(1)));
    const face = mainFace(photo.faces)!;
    const tight = await sharp(demo(1))
      .extract({ left: Math.round(face.box.x1), top: Math.round(face.box.y1), width: Math.round(face.box.x2 - face.box.x1), height: Math.round(face.box.y2 - face.box.y1) })
      .resize(150, 150, { fit: 'fill' })
      .jpeg()
      .toBuffer();
    expect((await engine.analyze(tight)).faces.length).toBe(1);
  });
});

describe('mainFace', () => {
  const face = (side: number, quality: number) => ({ box: { x1: 0, y1: 0, x2: side, y2: side }, quality }) as Face;
  it('is the largest face of usable quality, else the largest of all', () => {
    const bystander = face(300, 0.05), subject = face(200, 0.23), small = face(50, 0.9);
    expect(mainFace([bystander, subject, small])).toBe(subject);
    expect(mainFace([bystander, face(100, 0.1)])).toBe(bystander);
    expect(mainFace([bystander, subject], 0)).toBe(bystander);
    expect(mainFace([])).toBeUndefined();
  });
});

describe('embeddings', () => {
  it('are unit-length 512-d vectors, more alike for one person than for two', async () => {
    const photo = await engine.analyze(readFileSync(demo(4)), { embed: true });
    expect(photo.faces.length).toBe(4);
    for (const f of photo.faces) {
      expect(f.embedding).toHaveLength(512);
      expect(Math.hypot(...f.embedding)).toBeCloseTo(1, 4);
    }
    // A second, differently framed and scaled photo of the first face's person.
    const f0 = photo.faces[0];
    const w = f0.box.x2 - f0.box.x1;
    const reframed = await sharp(demo(4))
      .extract({ left: Math.round(f0.box.x1 - w * 0.8), top: Math.round(f0.box.y1 - w * 0.5), width: Math.round(w * 2.4), height: Math.round(w * 2.6) })
      .resize(300)
      .jpeg({ quality: 70 })
      .toBuffer();
    const again = mainFace((await engine.analyze(reframed, { embed: true })).faces)!;
    const same = cosineSimilarity(f0.embedding, again.embedding);
    const others = photo.faces.slice(1).map((f) => cosineSimilarity(f0.embedding, f.embedding));
    expect(same).toBeGreaterThan(engine.threshold);
    for (const o of others) expect(o).toBeLessThan(engine.threshold);
    expect(same).toBeGreaterThan(Math.max(...others) + 0.3);
  });

  it('refuses at load a manifest that does not describe its embedder (dim, or a file that is no embedder)', async () => {
    const m = defaultManifest();
    await expect(FaceEmbedder.load({ ...m.embedder, dim: 256 })).rejects.toMatchObject({ code: 'MODEL_MANIFEST_INVALID', message: 'embedder gives 512-d vectors, manifest says 256' });
    await expect(FaceEmbedder.load({ ...m.embedder, file: m.detector.file })).rejects.toMatchObject({ code: 'MODEL_MANIFEST_INVALID', message: expect.stringContaining('does not run as the manifest describes it') });
  });
});

const SHARED = SHARED_DIR;
const haveShared = existsSync(path.join(SHARED, 'faces/manifest.csv')) && existsSync(path.join(SHARED, 'models'));
if (!haveShared) console.warn(`SKIPPED: ../shared (labelled faces, extra models) not found at ${SHARED}; those tests are skipped`);
const describeShared = haveShared ? describe : describe.skip;

describeShared('with ../shared (labelled faces and extra models)', () => {
  it("finds one face, not the dots of his tie, in a portrait shrunk to 600 px and enlarged 2× (an ordinary 1200×1500 photo)", async () => {
    const small = await sharp(readFileSync(path.join(SHARED, 'faces/facerec_obama/examples__obama.jpg'))).resize(600).toBuffer();
    const photo = await sharp(small).resize(1200).jpeg({ quality: 92 }).toBuffer();
    // The dots came out as four "faces" 12–13 px wide and 16–18 px tall, of quality up to 0.25 (over the enrolment floor).
    const { faces } = await engine.analyze(photo);
    expect(faces.map((f) => Math.round(f.box.y2 - f.box.y1))).toEqual([expect.any(Number)]);
    expect(faces[0].box.y2 - faces[0].box.y1).toBeGreaterThan(300);
  });

  it('tells the same identity from different ones on labelled photos', async () => {
    const rows = readFileSync(path.join(SHARED, 'faces/manifest.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
    const byId = new Map<string, string[]>();
    for (const [file, id] of rows) byId.set(id, [...(byId.get(id) ?? []), file]);
    const pairs = [...byId.values()].filter((f) => f.length >= 2).slice(0, 8);
    const embed = async (file: string) => mainFace((await engine.analyze(readFileSync(path.join(SHARED, 'faces', file)), { embed: true })).faces)!.embedding;
    const firsts = await Promise.all(pairs.map((p) => embed(p[0])));
    const seconds = await Promise.all(pairs.map((p) => embed(p[1])));
    for (let i = 0; i < pairs.length; i++) {
      expect(cosineSimilarity(firsts[i], seconds[i])).toBeGreaterThan(engine.threshold);
      for (let j = 0; j < pairs.length; j++) if (j !== i) expect(cosineSimilarity(firsts[i], seconds[j])).toBeLessThan(engine.threshold);
    }
  });

  // SCRFD's own keypoints follow head tilt; YuNet's do not (on sample1's tilted faces they keep
  // an upright pattern), so YuNet boxes get the 68-point landmark model, as the manifest allows.
  it.each([
    ['scrfd', 'scrfd_500m_kps.onnx', { width: 640, height: 640 }, { channelOrder: 'rgb', mean: 127.5, std: 128 }, 0.5, 'detector'],
    ['yunet', 'yunet_n_320_320.onnx', { width: 320, height: 320 }, { channelOrder: 'bgr', mean: 0, std: 1 }, 0.8, 'model'],
  ] as const)('runs the whole pipeline with a %s detector', async (kind, file, input, pixels, scoreThreshold, landmarkSource) => {
    const base = defaultManifest();
    const manifest = parseManifest({
      ...base,
      name: kind,
      detector: { kind, file: path.join(SHARED, 'models', file), input, pixels, scoreThreshold, nmsIou: 0.4 },
      landmarks: landmarkSource === 'detector' ? { source: 'detector' } : base.landmarks,
    });
    const other = await FaceEngine.create({ manifest, intraOpThreads: 2 });
    try {
      const photo = await other.analyze(readFileSync(demo(1)), { embed: true });
      expect(photo.faces.length).toBe(3);
      for (const f of photo.faces) expectPlausibleFace(f);
      // The same faces as the default pipeline, embedded close to the default pipeline's vectors.
      const ref = await engine.analyze(readFileSync(demo(1)), { embed: true });
      const sims = photo.faces.map((f) => Math.max(...ref.faces.map((g) => cosineSimilarity(f.embedding, g.embedding))));
      for (const s of sims) expect(s).toBeGreaterThan(0.6);
    } finally {
      await other.release();
    }
  });
});

