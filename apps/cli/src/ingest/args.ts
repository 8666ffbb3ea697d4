import { UsageError, httpUrl, parseCommandLine } from '../arg-parsing';

export const DEFAULT_SERVER = 'http://127.0.0.1:3000';

export const INGEST_USAGE = `facepipe ingest — add a folder of photos to a collection of the facepipe service

Usage:
  facepipe ingest DIR --collection C [options]

Walks DIR recursively (hidden files and folders skipped, symlinked folders not followed) for
.jpg .jpeg .png .webp .avif .tif .tiff .gif photos; a photo's key is its path relative to DIR.
Sends them to the gateway as one batch job, shows progress, records the photos that finished in a
state file, and ends with a summary. A rerun skips the photos already done and retries the failed.

Options:
  --collection C         the collection to add to (created when missing)
  --server URL           the gateway (default http://127.0.0.1:3000; env FACEPIPE_SERVER)
  --mode MODE            auto (default): path if the server may read DIR, else upload;
                         path: the server reads the files (DIR must be under its FACEPIPE_PATH_ROOTS);
                         upload: send the files' bytes
  --webhook URL          the job's webhook, called when the job completes
  --webhook-secret S     signs the webhook (x-facepipe-signature; env FACEPIPE_WEBHOOK_SECRET,
                         which keeps it out of the process list)
  --state FILE           the state file (default: $XDG_STATE_HOME/facepipe/ingest-<hash>.jsonl)
  --api-key KEY          sent as x-api-key (env FACEPIPE_API_KEY)
  -h, --help             this help

Exit status: 0 when every photo succeeded, 1 when any failed or the server could not be used,
2 on usage errors, 130 when interrupted (Ctrl-C; rerun the same command to resume).
`;

export type IngestMode = 'auto' | 'path' | 'upload';

export interface IngestOptions {
  dir: string;
  collection: string;
  server: string;
  mode: IngestMode;
  webhook?: string;
  webhookSecret?: string;
  stateFile?: string;
  apiKey?: string;
  /** The options as given, to print the command that resumes an interrupted run. */
  argv: string[];
}

/** Parses the arguments after `ingest`; null means --help. Throws UsageError on misuse. */
export function parseIngestArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): IngestOptions | null {
  const { values, positionals } = parseCommandLine(argv, {
    collection: { type: 'string' },
    server: { type: 'string' },
    mode: { type: 'string' },
    webhook: { type: 'string' },
    'webhook-secret': { type: 'string' },
    state: { type: 'string' },
    'api-key': { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) return null;
  if (positionals.length === 0) throw new UsageError('ingest needs a folder: facepipe ingest DIR --collection C');
  if (positionals.length > 1) throw new UsageError(`ingest takes one folder, got ${positionals.length}: ${positionals.join(' ')}`);
  const collection = values.collection;
  if (!collection) throw new UsageError('ingest needs --collection C');
  const mode = values.mode ?? 'auto';
  if (mode !== 'auto' && mode !== 'path' && mode !== 'upload') throw new UsageError(`--mode must be auto, path or upload, got "${mode}"`);
  const server = httpUrl(values.server ? '--server' : 'FACEPIPE_SERVER', values.server || env.FACEPIPE_SERVER || DEFAULT_SERVER).replace(/\/+$/, '');
  const webhook = values.webhook === undefined ? undefined : httpUrl('--webhook', values.webhook);
  const webhookSecret = values['webhook-secret'] || env.FACEPIPE_WEBHOOK_SECRET || undefined;
  if (values['webhook-secret'] !== undefined && !webhook) throw new UsageError('--webhook-secret signs the --webhook: give that too');
  if (webhookSecret !== undefined && webhookSecret.length > 256) throw new UsageError('the webhook secret is at most 256 characters');
  if (values.state === '') throw new UsageError('--state needs a file name');
  return {
    dir: positionals[0],
    collection,
    server,
    mode,
    webhook,
    ...(webhook && webhookSecret ? { webhookSecret } : {}),
    stateFile: values.state,
    apiKey: values['api-key'] || env.FACEPIPE_API_KEY || undefined,
    argv: [...argv],
  };
}

/** The command line that reruns (resumes) an ingest, shell-quoted; an API key given
 * on the command line shows as KEY, never echoed. */
export function resumeCommand(argv: readonly string[]): string {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    for (const [option, shown] of [['--api-key', 'KEY'], ['--webhook-secret', 'SECRET']]) {
      if (a === option || a.startsWith(`${option}=`)) {
        if (a === option) i++;
        out.push(option, shown);
      }
    }
    if (a === '--api-key' || a.startsWith('--api-key=') || a === '--webhook-secret' || a.startsWith('--webhook-secret=')) continue;
    out.push(shellQuote(a));
  }
  return ['facepipe', 'ingest', ...out].join(' ');
}

export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
