import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  FaceEngine,
  cosineSimilarity,
  mainFace,
  toErrorInfo,
  type EmbeddedFace,
  type Face,
  type PhotoFaces,
} from '@facepipe/face-engine';
import { parseCli, UsageError, USAGE, type CliOptions } from './args';
import { calibrateCommand } from './calibrate/command';
import { forEachInOrder, openEngine } from './engine';
import { ingestCommand } from './ingest/command';
import { errorLine, photoLine, photoText } from './output';

/** Runs the CLI; resolves to the exit status. Output goes to stdout, diagnostics to stderr. */
export async function run(argv: readonly string[]): Promise<number> {
  // `ingest` talks to the service and needs no models: it has its own options and no engine.
  if (argv[0] === 'ingest') return ingestCommand(argv.slice(1));
  // `calibrate` runs the engine over a labelled folder and may talk to the service: its own options.
  if (argv[0] === 'calibrate') return calibrateCommand(argv.slice(1));
  let opts: CliOptions;
  try {
    opts = parseCli(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`facepipe: ${err.message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.command === 'help') return write(USAGE), 0;
  if (opts.command === 'version') return write(`${version()}\n`), 0;

  // The list is read before the models load: a missing list is a usage error, found at once.
  let files: string[] = [];
  if (opts.command !== 'verify') {
    try {
      files = await collectFiles(opts);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      process.stderr.write(`facepipe: --files-from ${opts.filesFrom}: ${e.code === 'ENOENT' ? 'no such file' : e.message}\n`);
      return 2;
    }
  }
  let engine: FaceEngine;
  try {
    engine = await openEngine(opts);
  } catch (err) {
    const { code, message } = toErrorInfo(err);
    process.stderr.write(`facepipe: ${code}: ${message}\n`);
    return 1;
  }
  try {
    if (opts.command === 'verify') return await verify(engine, opts);
    return await detectOrEmbed(engine, opts, files);
  } finally {
    await engine.release();
  }
}

async function detectOrEmbed(engine: FaceEngine, opts: CliOptions, files: string[]): Promise<number> {
  const embed = opts.command === 'embed';
  let failures = 0;
  type Outcome = { file: string; photo: PhotoFaces<Face | EmbeddedFace> } | { file: string; error: { code: string; message: string } };
  await forEachInOrder(
    files,
    async (file): Promise<Outcome> => {
      try {
        const image = await engine.decodeFile(file);
        return { file, photo: embed ? await engine.analyze(image, { embed: true }) : await engine.analyze(image) };
      } catch (err) {
        return { file, error: toErrorInfo(err) };
      }
    },
    (r) => {
      if ('error' in r) {
        failures++;
        if (opts.json) write(errorLine(r.file, r.error) + '\n');
        else process.stderr.write(`${r.file}: error ${r.error.code}: ${r.error.message}\n`);
      } else {
        write((opts.json ? photoLine(r.file, r.photo) : photoText(r.file, r.photo)) + '\n');
      }
    },
  );
  if (!opts.json && files.length > 1) {
    process.stderr.write(`${files.length} file${files.length === 1 ? '' : 's'}, ${failures} failed\n`);
  }
  return failures > 0 ? 1 : 0;
}

async function verify(engine: FaceEngine, opts: CliOptions): Promise<number> {
  const [a, b] = opts.files;
  const threshold = opts.threshold ?? engine.threshold;
  const photos: Record<string, PhotoFaces<EmbeddedFace>> = {};
  for (const [name, file] of [['a', a], ['b', b]] as const) {
    try {
      photos[name] = await engine.analyze(await engine.decodeFile(file), { embed: true });
    } catch (err) {
      return fail(opts, file, toErrorInfo(err));
    }
    if (photos[name].faces.length === 0) return fail(opts, file, { code: 'NO_FACE_FOUND', message: 'no face found in the photo' });
  }
  const fa = mainFace(photos.a.faces)!, fb = mainFace(photos.b.faces)!;
  const similarity = cosineSimilarity(fa.embedding, fb.embedding);
  const match = similarity >= threshold;
  if (opts.json) {
    write(JSON.stringify({
      a, b,
      similarity: Number(similarity.toFixed(4)),
      threshold,
      match,
      faces: { a: photos.a.faces.length, b: photos.b.faces.length },
    }) + '\n');
  } else {
    write(`${match ? 'same person' : 'different people'}: similarity ${similarity.toFixed(3)} (threshold ${threshold})\n`);
  }
  return 0;
}

function fail(opts: CliOptions, file: string, error: { code: string; message: string }): number {
  if (opts.json) write(errorLine(file, error) + '\n');
  else process.stderr.write(`${file}: error ${error.code}: ${error.message}\n`);
  return 1;
}

/** The positional files followed by those listed in --files-from (one per line). */
async function collectFiles(opts: CliOptions): Promise<string[]> {
  const files = [...opts.files];
  if (opts.filesFrom !== undefined) {
    const text = opts.filesFrom === '-' ? await readStdin() : await readFile(opts.filesFrom, 'utf8');
    files.push(...text.split(/\r?\n/).filter((line) => line.length > 0));
  }
  return files;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function write(text: string): void {
  process.stdout.write(text);
}

function version(): string {
  // The root package.json is three folders up from both apps/cli/src and dist/apps/cli.
  const file = path.join(__dirname, '../../../package.json');
  return existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version : 'unknown';
}
