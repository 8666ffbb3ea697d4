/**
 * Child process of crash-recovery.spec.ts (bundled with esbuild, run with plain node): opens the
 * index, makes the writes of `crashOps()` one after another and prints `ack <n>` once the n-th
 * (0-based) has resolved, until it is killed. Stdout to a pipe is synchronous on Linux, so a line
 * the parent reads was printed after the write was acknowledged.
 *
 * argv[2]: JSON { dir, checkpointEvery, pauseAt?: { phase, checkpoint } } — with pauseAt, the
 * child prints `paused` and blocks inside that checkpoint phase of its n-th checkpoint (1-based),
 * so the parent's kill lands there. With `concurrent: k`, it keeps k upserts of
 * `concurrentUpsert(n)` in flight at once (group commit) and prints `ack <n>` as each resolves.
 */
import { EmbeddedFaceIndex } from '../embedded-face-index';
import { CRASH_DIM, concurrentUpsert, crashOps } from './crash-ops';

interface Args {
  dir: string;
  checkpointEvery: number;
  pauseAt?: { phase: string; checkpoint: number };
  concurrent?: number;
}

async function main(): Promise<void> {
  const args = JSON.parse(process.argv[2]) as Args;
  let checkpoints = 0;
  const index = await EmbeddedFaceIndex.open(args.dir, {
    checkpointEvery: args.checkpointEvery,
    threads: 1,
    onEvent: (e) => {
      if (e.type !== 'checkpoint') return;
      if (e.phase === 'start') checkpoints++;
      process.stdout.write(`checkpoint ${e.phase} ${e.generation}\n`);
      if (args.pauseAt && e.phase === args.pauseAt.phase && checkpoints === args.pauseAt.checkpoint) {
        process.stdout.write('paused\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 30_000);
      }
    },
  });
  await index.ensureCollection('crash', CRASH_DIM);
  if (args.concurrent) {
    let next = 0;
    const lane = async (): Promise<never> => {
      for (;;) {
        const op = next++;
        await index.upsert('crash', concurrentUpsert(op));
        process.stdout.write(`ack ${op}\n`);
      }
    };
    await Promise.all(Array.from({ length: args.concurrent }, lane));
  }
  let n = 0;
  for (const op of crashOps()) {
    if (op.kind === 'upsert') await index.upsert('crash', op.faces);
    else if (op.kind === 'delete') await index.delete('crash', { ids: op.ids });
    else await index.setPayload('crash', op.ids, op.patch);
    process.stdout.write(`ack ${n++}\n`);
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
