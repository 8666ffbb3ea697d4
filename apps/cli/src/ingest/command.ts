import { UsageError } from '../arg-parsing';
import { INGEST_USAGE, parseIngestArgs, type IngestOptions } from './args';
import { EXIT, runIngest } from './ingest';

/**
 * `facepipe ingest ...` as the launcher runs it: parses the arguments (after `ingest`), turns the
 * first Ctrl-C / SIGTERM into a clean stop (state kept, resume command printed) and a second one
 * into an immediate exit.
 */
export async function ingestCommand(argv: readonly string[]): Promise<number> {
  let opts: IngestOptions | null;
  try {
    opts = parseIngestArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`facepipe: ${err.message}\n\n${INGEST_USAGE}`);
    return EXIT.usage;
  }
  if (opts === null) return process.stdout.write(INGEST_USAGE), EXIT.ok;

  const stop = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (stop.signal.aborted) process.exit(signal === 'SIGINT' ? EXIT.interrupted : 143);
    process.stderr.write(`\nfacepipe: ${signal}: stopping (again to quit at once)\n`);
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await runIngest(opts, { stdout: process.stdout, stderr: process.stderr, signal: stop.signal });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
