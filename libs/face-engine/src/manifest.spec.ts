import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FaceEngineError, type FaceEngineErrorCode } from './errors';
import { loadManifestFile, parseManifest, resolveModelFile, sha256File, verifyManifestFiles, type ModelManifest } from './manifest';
import { REPO_ROOT } from './testing';

const DEFAULT_MANIFEST = path.join(REPO_ROOT, 'libs/face-engine/manifests/faceplugin.json');
/** Real paths: node_modules may be a symlink (shared installs), and package: resolution follows it. */
const MODEL_DIR = realpathSync(path.join(REPO_ROOT, 'node_modules/faceplugin-face-recognition-js/model'));
const defaultJson = (): Json => JSON.parse(readFileSync(DEFAULT_MANIFEST, 'utf8'));

/** Manifests as plain JSON, so tests can break them freely. */
type Json = { [key: string]: unknown };

/** Sets (or, for `undefined`, deletes) the value at a dotted path such as `detector.pixels.std`. */
function set(json: Json, dotted: string, value: unknown): Json {
  const keys = dotted.split('.');
  let node = json;
  for (const k of keys.slice(0, -1)) node = node[k] as Json;
  const last = keys[keys.length - 1];
  if (value === undefined) delete node[last];
  else node[last] = value;
  return json;
}
const get = (json: Json, dotted: string): unknown => dotted.split('.').reduce<unknown>((n, k) => (n as Json)[k], json);

/** A minimal valid manifest with relative files, no sha256s, and detector landmarks. */
function minimal(): Json {
  return {
    name: 'custom',
    detector: {
      kind: 'scrfd',
      file: 'models/det.onnx',
      input: { width: 640, height: 640 },
      pixels: { channelOrder: 'rgb', mean: 127.5, std: 128 },
      scoreThreshold: 0.5,
    },
    landmarks: { source: 'detector' },
    embedder: {
      file: 'models/emb.onnx',
      input: { width: 112, height: 112 },
      pixels: { channelOrder: 'rgb', mean: 127.5, std: 127.5 },
      dim: 512,
      threshold: 0.3,
    },
  };
}

function expectError(fn: () => unknown, code: FaceEngineErrorCode, message?: RegExp): void {
  let err: unknown;
  try {
    fn();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FaceEngineError);
  expect((err as FaceEngineError).code).toBe(code);
  if (message) expect((err as FaceEngineError).message).toMatch(message);
}

async function expectRejection(p: Promise<unknown>, code: FaceEngineErrorCode, message?: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(FaceEngineError);
  expect((err as FaceEngineError).code).toBe(code);
  if (message) expect((err as FaceEngineError).message).toMatch(message);
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(path.join(tmpdir(), 'face-engine-manifest-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

describe('the default manifest (faceplugin.json)', () => {
  it('parses, with package: files resolved into the installed faceplugin package', () => {
    const m = parseManifest(defaultJson(), '/nowhere');
    expect(m.name).toBe('faceplugin');
    expect(m.detector.kind).toBe('ultraface');
    expect(m.detector.input).toEqual({ width: 320, height: 240 });
    expect(m.detector.file).toBe(path.join(MODEL_DIR, 'fr_detect.onnx'));
    expect(m.embedder.file).toBe(path.join(MODEL_DIR, 'fr_feature.onnx'));
    expect(m.embedder.dim).toBe(512);
    expect(m.landmarks.source).toBe('model');
    if (m.landmarks.source !== 'model') throw new Error('unreachable');
    expect(m.landmarks.file).toBe(path.join(MODEL_DIR, 'fr_landmark.onnx'));
    for (const file of [m.detector.file, m.embedder.file, m.landmarks.file]) expect(existsSync(file)).toBe(true);
  });

  it('gets the schema defaults for what it leaves out (tiling)', () => {
    const m = parseManifest(defaultJson());
    expect(m.detector.tiling).toEqual({ minFaceSize: 32, smallFace: 20, largeFace: 48, maxTiles: 256 });
    expect(m.detector.nmsIou).toBe(0.4);
  });

  it('loads from its file, and its files match their sha256s', async () => {
    const m = loadManifestFile(DEFAULT_MANIFEST);
    expect(m.detector.file).toBe(path.join(MODEL_DIR, 'fr_detect.onnx'));
    await expect(verifyManifestFiles(m)).resolves.toBeUndefined();
  });
});

describe('parseManifest', () => {
  it('resolves relative files against the base directory, keeps absolute ones', () => {
    const m = parseManifest(set(minimal(), 'embedder.file', '/opt/models/emb.onnx'), '/srv/facepipe/manifests');
    expect(m.detector.file).toBe(path.resolve('/srv/facepipe/manifests', 'models/det.onnx'));
    expect(m.embedder.file).toBe(path.resolve('/opt/models/emb.onnx'));
    expect(parseManifest(minimal(), '/a/b').detector.file).toBe(path.resolve('/a/b/models/det.onnx'));
  });

  it('fills defaults (nmsIou, tiling, flip) and keeps given values', () => {
    const m = parseManifest(minimal(), '/x');
    expect(m.detector.nmsIou).toBe(0.4);
    expect(m.detector.tiling).toEqual({ minFaceSize: 32, smallFace: 20, largeFace: 48, maxTiles: 256 });
    expect(m.embedder.flip).toBe(true);
    const json = set(set(minimal(), 'detector.tiling', { minFaceSize: 16 }), 'embedder.flip', false);
    const m2 = parseManifest(json, '/x');
    expect(m2.detector.tiling).toEqual({ minFaceSize: 16, smallFace: 20, largeFace: 48, maxTiles: 256 });
    expect(m2.embedder.flip).toBe(false);
  });

  it('does not modify its input', () => {
    const json = minimal();
    const before = JSON.stringify(json);
    parseManifest(json, '/x');
    expect(JSON.stringify(json)).toBe(before);
  });

  it.each<[string, string, unknown, RegExp]>([
    ['an unknown detector kind', 'detector.kind', 'retinaface', /detector\.kind: /],
    ['a missing embedder', 'embedder', undefined, /embedder: /],
    ['a missing detector file', 'detector.file', undefined, /detector\.file: /],
    ['a bad detector sha256', 'detector.sha256', 'abc123', /detector\.sha256: /],
    ['an upper-case sha256', 'embedder.sha256', 'A'.repeat(64), /embedder\.sha256: /],
    ['an unknown landmark source', 'landmarks', { source: 'magic' }, /landmarks(\.source)?: /],
    ['a model landmark spec without its file', 'landmarks', { source: 'model', kind: 'pfld68', input: 64 }, /landmarks\.file: /],
    ['a zero std', 'embedder.pixels.std', 0, /embedder\.pixels\.std: /],
    ['a bad channel order', 'detector.pixels.channelOrder', 'rbg', /detector\.pixels\.channelOrder: /],
    ['a score threshold above 1', 'detector.scoreThreshold', 1.5, /detector\.scoreThreshold: /],
    ['a fractional input size', 'detector.input.width', 320.5, /detector\.input\.width: /],
    ['an empty name', 'name', '', /name: /],
    ['an empty file', 'embedder.file', '', /embedder\.file: /],
  ])('rejects %s with MODEL_MANIFEST_INVALID naming the field', (_what, field, value, message) => {
    const json = set(minimal(), field, value);
    expect(get(json, field)).toBe(value);
    expectError(() => parseManifest(json, '/x'), 'MODEL_MANIFEST_INVALID', message);
    expect(() => parseManifest(minimal(), '/x')).not.toThrow();
  });

  it('rejects a non-object', () => {
    expectError(() => parseManifest(null), 'MODEL_MANIFEST_INVALID', /\(root\)/);
    expectError(() => parseManifest('faceplugin'), 'MODEL_MANIFEST_INVALID', /invalid model manifest/);
  });

  it('lists every problem, not only the first', () => {
    const json = set(set(minimal(), 'detector.kind', 'nope'), 'embedder.dim', -1);
    expectError(() => parseManifest(json, '/x'), 'MODEL_MANIFEST_INVALID', /detector\.kind.*; embedder\.dim/);
  });
});

describe('resolveModelFile', () => {
  it('resolves package: paths into node_modules, scoped packages too', () => {
    expect(resolveModelFile('package:faceplugin-face-recognition-js/model/fr_detect.onnx', tmp)).toBe(path.join(MODEL_DIR, 'fr_detect.onnx'));
    const scoped = resolveModelFile('package:@vladmandic/face-api/demo/sample1.jpg', tmp);
    expect(scoped).toBe(realpathSync(path.join(REPO_ROOT, 'node_modules/@vladmandic/face-api/demo/sample1.jpg')));
    expect(existsSync(scoped)).toBe(true);
  });

  it('refuses a package that is not installed with MODEL_LOAD_FAILED', () => {
    expectError(() => resolveModelFile('package:no-such-face-models-pkg/model.onnx', tmp), 'MODEL_LOAD_FAILED', /no-such-face-models-pkg/);
  });

  it('resolves plain paths against the base directory', () => {
    expect(resolveModelFile('m.onnx', '/base/dir')).toBe(path.resolve('/base/dir/m.onnx'));
    expect(resolveModelFile('../m.onnx', '/base/dir')).toBe(path.resolve('/base/m.onnx'));
    expect(resolveModelFile('/abs/m.onnx', '/base/dir')).toBe(path.resolve('/abs/m.onnx'));
  });
});

describe('loadManifestFile', () => {
  it('resolves relative files against the manifest file’s own directory', () => {
    const file = path.join(tmp, 'custom.json');
    writeFileSync(file, JSON.stringify(minimal()));
    const m = loadManifestFile(file);
    expect(m.detector.file).toBe(path.join(tmp, 'models/det.onnx'));
    expect(m.embedder.file).toBe(path.join(tmp, 'models/emb.onnx'));
  });

  it('refuses unreadable or malformed JSON with MODEL_MANIFEST_INVALID', () => {
    expectError(() => loadManifestFile(path.join(tmp, 'missing.json')), 'MODEL_MANIFEST_INVALID', /cannot read model manifest/);
    const bad = path.join(tmp, 'bad.json');
    writeFileSync(bad, '{ "name": ');
    expectError(() => loadManifestFile(bad), 'MODEL_MANIFEST_INVALID', /bad\.json/);
  });
});

describe('verifyManifestFiles / sha256File', () => {
  const content = Buffer.from('not really an onnx model\n');
  const digest = createHash('sha256').update(content).digest('hex');

  function manifestWith(sha256?: string): ModelManifest {
    const dir = mkdtempSync(path.join(tmp, 'models-'));
    writeFileSync(path.join(dir, 'det.onnx'), content);
    writeFileSync(path.join(dir, 'emb.onnx'), content);
    const json = set(set(minimal(), 'detector.file', 'det.onnx'), 'embedder.file', 'emb.onnx');
    if (sha256) set(json, 'embedder.sha256', sha256);
    return parseManifest(json, dir);
  }

  it('hashes a file', async () => {
    const m = manifestWith();
    await expect(sha256File(m.detector.file)).resolves.toBe(digest);
    await expect(sha256File(path.join(MODEL_DIR, 'fr_detect.onnx'))).resolves.toBe(get(defaultJson(), 'detector.sha256'));
  });

  it('accepts existing files with a matching sha256 (or none)', async () => {
    await expect(verifyManifestFiles(manifestWith())).resolves.toBeUndefined();
    await expect(verifyManifestFiles(manifestWith(digest))).resolves.toBeUndefined();
  });

  it('rejects a wrong sha256 with MODEL_LOAD_FAILED', async () => {
    const wrong = '0'.repeat(64);
    await expectRejection(verifyManifestFiles(manifestWith(wrong)), 'MODEL_LOAD_FAILED', new RegExp(`emb\\.onnx has sha256 ${digest}, expected ${wrong}`));
  });

  it('rejects a missing file with MODEL_LOAD_FAILED', async () => {
    const m = manifestWith();
    rmSync(m.embedder.file);
    await expectRejection(verifyManifestFiles(m), 'MODEL_LOAD_FAILED', /model file not found: .*emb\.onnx/);
  });

  it('checks the landmark model file too', async () => {
    const m = manifestWith();
    const withLandmarks: ModelManifest = { ...m, landmarks: { source: 'model', kind: 'pfld68', file: path.join(tmp, 'no-landmarks.onnx'), input: 64 } };
    await expectRejection(verifyManifestFiles(withLandmarks), 'MODEL_LOAD_FAILED', /no-landmarks\.onnx/);
  });
});
