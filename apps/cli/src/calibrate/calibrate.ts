import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  IMPOSTOR_SAMPLE_SEED,
  RELIABLE_FALSE_ACCEPTS,
  dot,
  operatingPointAt,
  operatingPointForFar,
  scoreDistributions,
  toErrorInfo,
  type FaceEngine,
  type FarOperatingPoint,
  type OperatingPoint,
} from '@facepipe/face-engine';
import { openEngine } from '../engine';
import { ApiError, GatewayClient, UnreachableError } from '../ingest/client';
import { formatCount, type Output } from '../ingest/progress';
import type { CalibrateOptions } from './args';
import { formatReport } from './report';
import { embedLargestFaces, listLabelledPhotos } from './photos';

export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/** The FAR targets of the table, besides the one asked for. */
export const TABLE_FARS = [1e-2, 1e-3, 1e-4, 1e-5];

export interface CalibrateIO {
  stdout: Output;
  stderr: Output;
}

/** What `--json` prints: every figure of the text report. */
export interface CalibrationReport {
  dir: string;
  models: { manifest: string; flip: boolean; threshold: number };
  photos: {
    /** Files under identity folders, all tried as photos. */
    files: number;
    identityFolders: number;
    /** Photos whose largest face was embedded. */
    withFace: number;
    noFace: number;
    skipped: number;
    /** Files directly in DIR, outside any identity folder: ignored. */
    outside: number;
    noFaceFiles: string[];
    skippedFiles: { file: string; code: string; message: string }[];
  };
  /** Identities with at least one photo with a face: those compared. */
  identities: number;
  pairs: {
    genuine: number;
    /** Impostor pairs compared. */
    impostor: number;
    /** Impostor pairs there are; more than `impostor` when sampled. */
    impostorTotal: number;
    sampled: boolean;
    /** The sample's seed, null when every pair was compared. */
    seed: number | null;
  };
  /** The threshold for the FAR asked for (a pair matches when similarity ≥ threshold). */
  result: FarOperatingPoint;
  /** The same for 1e-2 … 1e-5 and the target, where at least one false accept is allowed. */
  table: FarOperatingPoint[];
  /** What the manifest's default threshold gives on this folder. */
  manifestThreshold: OperatingPoint;
  apply?: { collection: string; server: string; threshold: number | null; collectionAfter?: unknown; error?: { status?: number; code: string; message: string } };
}

/** `facepipe calibrate`: resolves to the exit status. */
export async function runCalibrate(opts: CalibrateOptions, io: CalibrateIO): Promise<number> {
  const fail = (line: string) => (io.stderr.write(`facepipe: ${line}\n`), EXIT.failed);
  const dir = path.resolve(opts.dir);
  const info = await stat(dir).catch(() => null);
  if (!info?.isDirectory()) {
    io.stderr.write(`facepipe: ${opts.dir} is not a folder (calibrate wants DIR/<identity>/<photo> files)\n`);
    return EXIT.usage;
  }
  const folder = await listLabelledPhotos(dir);
  for (const w of folder.warnings) io.stderr.write(`facepipe: warning: ${w}\n`);
  if (folder.identityFolders < 2) {
    return fail(`${opts.dir} has ${folder.identityFolders} identity folder${folder.identityFolders === 1 ? '' : 's'}; ` +
      'calibrate needs at least two (DIR/<identity>/<photo>): impostor pairs are photos of different identities');
  }

  let engine: FaceEngine;
  try {
    engine = await openEngine(opts);
  } catch (err) {
    const { code, message } = toErrorInfo(err);
    return fail(`${code}: ${message}`);
  }
  const progress = progressReporter(io.stderr, folder.photos.length);
  let embedded;
  try {
    embedded = await embedLargestFaces(engine, folder.photos, progress);
  } finally {
    progress(-1);
    await engine.release();
  }

  const labels = embedded.faces.map((f) => f.identity);
  const identities = new Set(labels).size;
  if (identities < 2) {
    return fail(`only ${identities} identit${identities === 1 ? 'y has' : 'ies have'} a photo with a face ` +
      `(${embedded.faces.length} of ${folder.photos.length} files); calibrate needs at least two`);
  }
  // Embeddings are unit length: the dot product is the cosine similarity the service compares.
  const vectors = embedded.faces.map((f) => f.embedding);
  const scores = scoreDistributions(labels, (a, b) => dot(vectors[a], vectors[b]), { maxImpostors: opts.maxImpostors });
  if (scores.genuine.length === 0) {
    return fail('no identity has two photos with a face, so there is no genuine pair: the true-accept rate cannot be measured');
  }

  const fars = [...new Set([...TABLE_FARS, opts.far])].sort((a, b) => b - a);
  const manifest = engine.manifest;
  const report: CalibrationReport = {
    dir,
    models: { manifest: manifest.name, flip: manifest.embedder.flip, threshold: manifest.embedder.threshold },
    photos: {
      files: folder.photos.length,
      identityFolders: folder.identityFolders,
      withFace: embedded.faces.length,
      noFace: embedded.noFace.length,
      skipped: embedded.skipped.length,
      outside: folder.outside,
      noFaceFiles: embedded.noFace,
      skippedFiles: embedded.skipped.map(({ key, code, message }) => ({ file: key, code, message })),
    },
    identities,
    pairs: {
      genuine: scores.genuine.length,
      impostor: scores.impostor.length,
      impostorTotal: scores.impostorPairs,
      sampled: scores.sampled,
      seed: scores.sampled ? IMPOSTOR_SAMPLE_SEED : null,
    },
    result: operatingPointForFar(scores, opts.far),
    table: fars.filter((far) => far * scores.impostor.length >= 1 - 1e-9).map((far) => operatingPointForFar(scores, far)),
    manifestThreshold: operatingPointAt(scores, manifest.embedder.threshold),
  };

  let status: number = EXIT.ok;
  if (opts.apply) {
    report.apply = await applyThreshold(opts.apply, report.result);
    if (report.apply.error) {
      const { status: http, code, message } = report.apply.error;
      status = fail(`could not set the threshold of collection "${opts.apply.collection}" on ${opts.apply.server}: ` +
        `${http ? `HTTP ${http} ` : ''}${code}: ${message}`);
    }
  }
  io.stdout.write(opts.json ? JSON.stringify(report) + '\n' : formatReport(report, opts.dir));
  // The text report says so itself; a --json reader may only look at stdout's figures.
  if (opts.json && !report.result.reliable) {
    io.stderr.write(`facepipe: warning: ${formatCount(report.pairs.impostor)} impostor pairs are too few for FAR ${opts.far}: ` +
      `a reliable estimate wants ≥ ${RELIABLE_FALSE_ACCEPTS}/FAR = ${formatCount(Math.ceil(RELIABLE_FALSE_ACCEPTS / opts.far))} (more identities or photos)\n`);
  }
  return status;
}

async function applyThreshold(apply: NonNullable<CalibrateOptions['apply']>, result: FarOperatingPoint): Promise<NonNullable<CalibrationReport['apply']>> {
  const { collection, server } = apply;
  if (result.threshold === null) {
    return { collection, server, threshold: null, error: { code: 'NO_THRESHOLD', message: `no threshold in [-1, 1] reaches FAR ${result.targetFar}; nothing applied` } };
  }
  const threshold = result.threshold;
  try {
    const client = new GatewayClient({ server, apiKey: apply.apiKey });
    return { collection, server, threshold, collectionAfter: await client.updateCollection(collection, { threshold }) };
  } catch (err) {
    if (err instanceof ApiError) return { collection, server, threshold, error: { status: err.status, code: err.code, message: err.message } };
    if (err instanceof UnreachableError) return { collection, server, threshold, error: { code: 'SERVER_UNREACHABLE', message: `${err.message}; is it running (npm start)?` } };
    return { collection, server, threshold, error: { code: 'INTERNAL_ERROR', message: (err as Error).message } };
  }
}

/** Progress on stderr: an updating line on a terminal, a line every 1,000 photos otherwise. -1 ends it. */
function progressReporter(out: Output, total: number): (done: number) => void {
  let last = 0;
  return (done) => {
    if (done === -1) {
      if (out.isTTY && last > 0) out.write('\r\x1b[K');
      return;
    }
    const line = `embedding ${formatCount(done)}/${formatCount(total)} photos`;
    if (out.isTTY && (Date.now() - last > 200 || done === total)) {
      out.write(`\r${line}\x1b[K`);
      last = Date.now();
    } else if (!out.isTTY && done % 1000 === 0) {
      out.write(`${line}\n`);
    }
  };
}
