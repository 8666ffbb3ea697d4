import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { FaceEngineError } from './errors';

/**
 * The model manifest: everything the engine needs to know about a set of models, so that an
 * operator can swap the detector or the embedder for their own ONNX files without code changes.
 * The default set (faceplugin) is one manifest among others, not special code.
 *
 * `file` is a path relative to the manifest file, an absolute path, or `package:<npm package>/<path>`
 * for files shipped inside an installed npm package (so `npm ci` brings them; nothing downloads).
 */
const pixels = z.object({
  channelOrder: z.enum(['rgb', 'bgr']),
  mean: z.number(),
  std: z.number().positive(),
});

const modelFile = {
  file: z.string().min(1),
  /** Optional hex sha256 of the file, checked at load time when given. */
  sha256: z.string().regex(/^[0-9a-f]{64}$/).optional(),
};

const detector = z.object({
  kind: z.enum(['ultraface', 'scrfd', 'yunet']),
  ...modelFile,
  /** Network input size. Fixed-size graphs use exactly this; dynamic ones (YuNet) use it as tile size. */
  input: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }),
  pixels,
  scoreThreshold: z.number().min(0).max(1),
  nmsIou: z.number().min(0).max(1).default(0.4),
  /**
   * Multi-scale tiling for faces too small for one whole-image pass. Each level doubles the scale
   * and covers the image with overlapping input-sized tiles; `minFaceSize` (source pixels) sets
   * how fine the finest level goes, `maxTiles` caps the work on huge scans.
   */
  tiling: z
    .object({
      minFaceSize: z.number().positive().default(32),
      /** Face sizes (network pixels) that a coarser level leaves to the next finer one. */
      smallFace: z.number().positive().default(20),
      /** Face sizes (network pixels) above which a tiled level leaves the face to a coarser one. */
      largeFace: z.number().positive().default(48),
      maxTiles: z.number().int().positive().default(256),
    })
    .default({ minFaceSize: 32, smallFace: 20, largeFace: 48, maxTiles: 256 }),
});

const landmarks = z.discriminatedUnion('source', [
  /** Use the detector's own five keypoints (SCRFD, YuNet). */
  z.object({ source: z.literal('detector') }),
  /** A 68-point landmark model on a grey square crop of the face box (faceplugin fr_landmark). */
  z.object({
    source: z.literal('model'),
    kind: z.literal('pfld68'),
    ...modelFile,
    input: z.number().int().positive(),
  }),
]);

const embedder = z.object({
  ...modelFile,
  input: z.object({ width: z.number().int().positive(), height: z.number().int().positive() }),
  pixels,
  /** Length of the embedding vector. */
  dim: z.number().int().positive(),
  /** Add the embedding of the mirrored crop (test-time augmentation). */
  flip: z.boolean().default(true),
  /** Cosine similarity at or above which two faces are called the same person by default. */
  threshold: z.number().min(-1).max(1),
});

export const modelManifestSchema = z.object({
  name: z.string().min(1),
  detector,
  landmarks,
  embedder,
});

export type ModelManifest = z.infer<typeof modelManifestSchema>;
export type ModelManifestInput = z.input<typeof modelManifestSchema>;
export type DetectorSpec = ModelManifest['detector'];
export type LandmarkSpec = ModelManifest['landmarks'];
export type EmbedderSpec = ModelManifest['embedder'];

/** Parses and validates a manifest object; relative `file`s resolve against `baseDir`. */
export function parseManifest(input: unknown, baseDir = process.cwd()): ModelManifest {
  const parsed = modelManifestSchema.safeParse(input);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new FaceEngineError('MODEL_MANIFEST_INVALID', `invalid model manifest: ${issues}`);
  }
  const m = parsed.data;
  const resolve = <T extends { file: string }>(spec: T): T => ({ ...spec, file: resolveModelFile(spec.file, baseDir) });
  return {
    ...m,
    detector: resolve(m.detector),
    landmarks: m.landmarks.source === 'model' ? resolve(m.landmarks) : m.landmarks,
    embedder: resolve(m.embedder),
  };
}

/** Loads a manifest JSON file (as an operator would point FACEPIPE_MODEL_MANIFEST at). */
export function loadManifestFile(file: string): ModelManifest {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FaceEngineError('MODEL_MANIFEST_INVALID', `cannot read model manifest ${file}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return parseManifest(json, path.dirname(path.resolve(file)));
}

export function resolveModelFile(file: string, baseDir: string): string {
  if (file.startsWith('package:')) {
    const spec = file.slice('package:'.length);
    const parts = spec.split('/');
    const pkgName = spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
    const rest = spec.slice(pkgName.length + 1);
    // Look the package folder up along node_modules rather than through require.resolve of its
    // package.json, which a package's "exports" map may hide.
    const candidates = [baseDir, process.cwd(), __dirname].flatMap(nodeModulesAbove);
    const dir = candidates.map((nm) => path.join(nm, pkgName)).find((d) => existsSync(path.join(d, 'package.json')));
    if (!dir) throw new FaceEngineError('MODEL_LOAD_FAILED', `model package "${pkgName}" is not installed (run npm ci)`);
    return path.join(dir, rest);
  }
  return path.resolve(baseDir, file);
}

/** node_modules folders from `from` up to the file-system root, nearest first (Node's lookup order). */
function nodeModulesAbove(from: string): string[] {
  const out: string[] = [];
  for (let dir = path.resolve(from); ; dir = path.dirname(dir)) {
    out.push(path.join(dir, 'node_modules'));
    if (path.dirname(dir) === dir) return out;
  }
}

/** Checks that every model file exists and, where the manifest gives one, matches its sha256. */
export async function verifyManifestFiles(m: ModelManifest): Promise<void> {
  const specs: { file: string; sha256?: string }[] = [m.detector, m.embedder];
  if (m.landmarks.source === 'model') specs.push(m.landmarks);
  for (const spec of specs) {
    if (!existsSync(spec.file)) throw new FaceEngineError('MODEL_LOAD_FAILED', `model file not found: ${spec.file}`);
    if (spec.sha256) {
      const actual = await sha256File(spec.file);
      if (actual !== spec.sha256) {
        throw new FaceEngineError('MODEL_LOAD_FAILED', `model file ${spec.file} has sha256 ${actual}, expected ${spec.sha256}`);
      }
    }
  }
}

export function sha256File(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(file)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}
