// A stage process for worker-runtime.spec.ts: bundled with esbuild and run as a child, so that the
// spec can send it a real SIGTERM while a job is in progress. Not part of the library.
import { QUEUES } from '@facepipe/contracts';
import { loadConfig } from '../config';
import { runStage } from '../worker-runtime';

async function main(): Promise<void> {
  const jobMs = Number(process.env.CHILD_JOB_MS ?? 1500);
  await runStage<{ n: number }>({
    stage: 'detector',
    queue: QUEUES.detect,
    config: loadConfig(),
    concurrency: 1,
    process: async (job) => {
      process.stdout.write(`${JSON.stringify({ msg: 'child job running', jobId: job.id })}\n`);
      await new Promise((resolve) => setTimeout(resolve, jobMs));
      return { n: job.data.n, finished: true };
    },
  });
}

main().catch((err) => {
  process.stderr.write(`sigterm-child: ${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
