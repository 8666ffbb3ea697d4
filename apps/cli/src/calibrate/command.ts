import { UsageError } from '../arg-parsing';
import { CALIBRATE_USAGE, parseCalibrateArgs, type CalibrateOptions } from './args';
import { EXIT, runCalibrate } from './calibrate';

/** `facepipe calibrate ...` as the launcher runs it (the arguments after `calibrate`). */
export async function calibrateCommand(argv: readonly string[]): Promise<number> {
  let opts: CalibrateOptions | null;
  try {
    opts = parseCalibrateArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`facepipe: ${err.message}\n\n${CALIBRATE_USAGE}`);
    return EXIT.usage;
  }
  if (opts === null) return process.stdout.write(CALIBRATE_USAGE), EXIT.ok;
  return runCalibrate(opts, { stdout: process.stdout, stderr: process.stderr });
}
