import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { EngineOptions } from './engine';

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig['options']>;

/** A command line the CLI cannot run: printed with the command's usage, exit status 2. */
export class UsageError extends Error {}

/** node:util's strict parseArgs (positionals allowed), its complaints as UsageError. */
export function parseCommandLine<const O extends ParseArgsOptionsConfig>(argv: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...argv], allowPositionals: true, options });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** An optional number option or variable in [min, max]; unset or empty gives undefined. */
export function optionalNumber(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v < min || v > max) throw new UsageError(`${name} must be a number in [${min}, ${max}], got "${raw}"`);
  return v;
}

/** As optionalNumber, for whole numbers. */
export function optionalInt(name: string, raw: string | undefined, min: number, max: number): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new UsageError(`${name} must be an integer in [${min}, ${max}], got "${raw}"`);
  return v;
}

/** An http(s) URL, returned as given. */
export function httpUrl(name: string, raw: string): string {
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    // reported below
  }
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:') throw new UsageError(`${name} must be an http(s) URL, got "${raw}"`);
  return raw;
}

/** The engine's options, shared by every command that runs the models (detect, embed, verify, calibrate). */
export const ENGINE_OPTIONS = {
  threads: { type: 'string' },
  manifest: { type: 'string' },
  'max-pixels': { type: 'string' },
  'min-face': { type: 'string' },
} as const satisfies ParseArgsOptionsConfig;

export const ENGINE_OPTIONS_USAGE = `  --threads N            onnxruntime threads per model (default: all cores; env FACEPIPE_THREADS)
  --manifest FILE        model manifest JSON (default: the faceplugin models; env FACEPIPE_MODEL_MANIFEST)
  --max-pixels N         refuse larger images (default 50000000; env FACEPIPE_MAX_PIXELS)
  --min-face N           smallest face to look for, in pixels (default 32; env FACEPIPE_MIN_FACE_SIZE);
                         bigger is faster: fewer multi-scale detection passes`;

/** The engine's settings from ENGINE_OPTIONS' values, each falling back to its environment variable. */
export function engineOptions(values: { [K in keyof typeof ENGINE_OPTIONS]?: string }, env: NodeJS.ProcessEnv): EngineOptions {
  return {
    threads: optionalInt('--threads', values.threads ?? env.FACEPIPE_THREADS, 1, 256),
    manifest: values.manifest ?? env.FACEPIPE_MODEL_MANIFEST,
    maxPixels: optionalInt('--max-pixels', values['max-pixels'] ?? env.FACEPIPE_MAX_PIXELS, 1, 1e10),
    minFaceSize: optionalInt('--min-face', values['min-face'] ?? env.FACEPIPE_MIN_FACE_SIZE, 4, 100000),
  };
}
