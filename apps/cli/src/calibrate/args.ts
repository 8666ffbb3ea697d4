import { DEFAULT_MAX_IMPOSTORS } from '@facepipe/face-engine';
import { ENGINE_OPTIONS, ENGINE_OPTIONS_USAGE, UsageError, engineOptions, httpUrl, optionalInt, parseCommandLine } from '../arg-parsing';
import type { EngineOptions } from '../engine';
import { DEFAULT_SERVER } from '../ingest/args';

export const CALIBRATE_USAGE = `facepipe calibrate — the similarity threshold for a false-accept rate, measured on your photos

Usage:
  facepipe calibrate DIR [--far F] [options]

DIR holds one folder per identity (DIR/<identity>/<photo>, sub-folders of an identity included).
Every file is tried as a photo: those that do not decode are skipped and counted. The largest face
of each photo is embedded with the same engine as \`facepipe embed\`; photos without a face are
counted and left out. All same-identity (genuine) pairs are compared, and the different-identity
(impostor) pairs: all of them, or a fixed sample of --max-impostors. Prints the smallest threshold
(0.0001 steps) whose false-accept rate is at most F, the true-accept rate it gives, and the same
for FAR 1e-2, 1e-3, 1e-4 and 1e-5 where there are enough impostor pairs.

Options:
  --far F                target false-accept rate, 0 < F < 1 (default 1e-3)
  --max-impostors N      impostor pairs kept when there are more: a seeded random sample
                         (default ${DEFAULT_MAX_IMPOSTORS})
  --json                 one JSON object with every figure
  --apply COLLECTION     set the collection's threshold on the service to the result
                         (PATCH /v1/collections/COLLECTION {"threshold": T})
  --server URL           the gateway for --apply (default ${DEFAULT_SERVER}; env FACEPIPE_SERVER)
  --api-key KEY          sent as x-api-key with --apply (env FACEPIPE_API_KEY)
${ENGINE_OPTIONS_USAGE}
  -h, --help             this help

Exit status: 0 on success, 1 when the folder cannot give a threshold (fewer than two identities
with a face, no genuine pair) or --apply failed, 2 on usage errors.
`;

export const DEFAULT_FAR = 1e-3;
/** Memory bound: 8 bytes a pair. */
const MAX_IMPOSTORS_LIMIT = 50_000_000;

export interface CalibrateOptions extends EngineOptions {
  dir: string;
  far: number;
  maxImpostors: number;
  json: boolean;
  apply?: { collection: string; server: string; apiKey?: string };
}

/** Parses the arguments after `calibrate`; null means --help. Throws UsageError on misuse. */
export function parseCalibrateArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CalibrateOptions | null {
  const { values, positionals } = parseCommandLine(argv, {
    far: { type: 'string' },
    'max-impostors': { type: 'string' },
    json: { type: 'boolean', default: false },
    apply: { type: 'string' },
    server: { type: 'string' },
    'api-key': { type: 'string' },
    ...ENGINE_OPTIONS,
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return null;
  if (positionals.length === 0) throw new UsageError('calibrate needs a folder: facepipe calibrate DIR [--far F]');
  if (positionals.length > 1) throw new UsageError(`calibrate takes one folder, got ${positionals.length}: ${positionals.join(' ')}`);

  const far = values.far === undefined ? DEFAULT_FAR : Number(values.far);
  // Number('') is 0, so an empty value fails here too.
  if (!Number.isFinite(far) || far <= 0 || far >= 1) {
    throw new UsageError(`--far must be a number with 0 < F < 1 (e.g. 1e-3), got "${values.far}"`);
  }
  if (values.apply === '') throw new UsageError('--apply needs a collection name');
  if (values.apply === undefined && (values.server !== undefined || values['api-key'] !== undefined)) {
    throw new UsageError('--server and --api-key apply to --apply only');
  }
  return {
    dir: positionals[0],
    far,
    maxImpostors: optionalInt('--max-impostors', values['max-impostors'], 1, MAX_IMPOSTORS_LIMIT) ?? DEFAULT_MAX_IMPOSTORS,
    json: values.json ?? false,
    apply: values.apply === undefined ? undefined : {
      collection: values.apply,
      server: httpUrl(values.server ? '--server' : 'FACEPIPE_SERVER', values.server || env.FACEPIPE_SERVER || DEFAULT_SERVER).replace(/\/+$/, ''),
      apiKey: values['api-key'] || env.FACEPIPE_API_KEY || undefined,
    },
    ...engineOptions(values, env),
  };
}
