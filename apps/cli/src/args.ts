import { ENGINE_OPTIONS, ENGINE_OPTIONS_USAGE, UsageError, engineOptions, optionalNumber, parseCommandLine } from './arg-parsing';
import type { EngineOptions } from './engine';

export const USAGE = `facepipe — face detection and recognition, in-process (no services needed)

Usage:
  facepipe detect [options] FILE...     faces, boxes, landmarks, quality per photo
  facepipe embed  [options] FILE...     the same plus a 512-d embedding per face
  facepipe verify [options] A B         are the largest faces of A and B the same person?
  facepipe ingest DIR --collection C    send a folder of photos to the facepipe service
                                        (its own options: facepipe ingest --help)
  facepipe calibrate DIR [--far F]      the similarity threshold for a false-accept rate, measured
                                        on a folder of identity/photo files
                                        (its own options: facepipe calibrate --help)

Options:
  --json                 one JSON object per line per input, in input order
  --files-from LIST      read more paths from LIST, one per line ("-" for stdin)
  --threshold T          verify: similarity threshold (default: the model manifest's)
${ENGINE_OPTIONS_USAGE}
  -h, --help             this help
  -v, --version          the version

Exit status: 0 when every input succeeded, 1 when any failed (its line says why), 2 on usage errors.
`;

export interface CliOptions extends EngineOptions {
  command: 'detect' | 'embed' | 'verify' | 'help' | 'version';
  files: string[];
  filesFrom?: string;
  json: boolean;
  threshold?: number;
}

export { UsageError };

/** Parses the command line (without node and the script path); throws UsageError on misuse. */
export function parseCli(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
  const { values, positionals } = parseCommandLine(argv, {
    json: { type: 'boolean', default: false },
    'files-from': { type: 'string' },
    threshold: { type: 'string' },
    ...ENGINE_OPTIONS,
    help: { type: 'boolean', short: 'h', default: false },
    version: { type: 'boolean', short: 'v', default: false },
  });
  if (values.help) return { command: 'help', files: [], json: false };
  if (values.version) return { command: 'version', files: [], json: false };
  const [command, ...files] = positionals;
  if (!command) throw new UsageError('missing command (detect, embed, verify, ingest or calibrate)');
  if (command === 'ingest') throw new UsageError('ingest must come first: facepipe ingest DIR --collection C [options]');
  if (command === 'calibrate') throw new UsageError('calibrate must come first: facepipe calibrate DIR [options]');
  if (command !== 'detect' && command !== 'embed' && command !== 'verify') throw new UsageError(`unknown command "${command}"`);
  if (command === 'verify' && (files.length !== 2 || values['files-from'])) throw new UsageError('verify takes exactly two files: A B');
  if (command !== 'verify' && files.length === 0 && !values['files-from']) throw new UsageError(`${command} needs at least one FILE or --files-from`);
  if (values.threshold !== undefined && command !== 'verify') throw new UsageError('--threshold applies to verify only');

  return {
    command,
    files,
    filesFrom: values['files-from'],
    json: values.json ?? false,
    threshold: optionalNumber('--threshold', values.threshold, -1, 1),
    ...engineOptions(values, env),
  };
}
