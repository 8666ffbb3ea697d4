/**
 * Crash recovery with a real SIGKILL. A child process (testing/crash-writer.ts, bundled on the fly
 * with esbuild since the library is not built) writes to an index and prints each acknowledged
 * write; the test kills it mid-stream, reopens the directory here and checks that:
 *   - every acknowledged write survived (payloads and exact vectors), nothing else did, except
 *     possibly the one write in flight, and then all of it (a batch is one WAL record);
 *   - no id appears twice; search works; a second reopen (after the recovered state was
 *     checkpointed on close) gives the same state.
 * Kill moments: WAL only; with frequent checkpoints at a random moment; inside a checkpoint,
 * before and after its manifest switch; and under heavy load, with 16 upserts in flight at once
 * (group commit), where every acknowledged batch must be there and every other one whole or absent.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildSync } from 'esbuild';
import { EmbeddedFaceIndex } from './embedded-face-index';
import { CRASH_BATCH, concurrentUpsert, modelAfter } from './testing/crash-ops';

const ROOT = path.resolve(__dirname, '../../../..');
let work: string;
let writerJs: string;

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'face-index-crash-'));
  writerJs = path.join(work, 'crash-writer.js');
  buildSync({
    entryPoints: [path.join(__dirname, 'testing', 'crash-writer.ts')],
    outfile: writerJs,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    packages: 'external',
    tsconfig: path.join(ROOT, 'tsconfig.base.json'),
    logLevel: 'error',
  });
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
});

interface Run {
  checkpointEvery: number;
  /** Kill once this many writes were acknowledged, after a random delay of up to `jitterMs`. */
  killAfterAcks?: number;
  jitterMs?: number;
  /** Or kill while the child is blocked in this phase of its n-th checkpoint. */
  pauseAt?: { phase: 'written' | 'committed'; checkpoint: number };
  /** Keep this many upserts in flight at once (group commit) instead of one write at a time. */
  concurrent?: number;
}

/** Runs the child until the kill; returns how many writes were acknowledged and its output. */
async function runAndKill(dir: string, run: Run): Promise<{ acked: number; lines: string[] }> {
  const child: ChildProcess = spawn(process.execPath, [writerJs, JSON.stringify({ dir, checkpointEvery: run.checkpointEvery, pauseAt: run.pauseAt, concurrent: run.concurrent })], {
    // The bundle lives in a temp dir; its external packages (usearch) resolve from the repo.
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let acked = 0;
  let stderr = '';
  let killed = false;
  const kill = () => {
    if (killed) return;
    killed = true;
    child.kill('SIGKILL');
  };
  let rest = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = rest + chunk.toString();
    const parts = text.split('\n');
    rest = parts.pop()!;
    for (const line of parts) {
      lines.push(line);
      if (killed) continue;
      if (line.startsWith('ack ')) acked = Number(line.slice(4)) + 1;
      if (run.pauseAt && line === 'paused') kill();
      if (run.killAfterAcks !== undefined && acked >= run.killAfterAcks && line.startsWith('ack ')) {
        const delay = Math.floor(Math.random() * (run.jitterMs ?? 0));
        if (delay === 0) kill();
        else setTimeout(kill, delay);
        run.killAfterAcks = undefined;
      }
    }
  });
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => resolve({ code, signal })),
  );
  // Acks printed between the kill decision and the kill also count: they were acknowledged.
  for (const line of lines) if (line.startsWith('ack ')) acked = Math.max(acked, Number(line.slice(4)) + 1);
  if (exit.signal !== 'SIGKILL') throw new Error(`child exited on its own (${exit.code}): ${stderr}`);
  return { acked, lines };
}

/** The index's whole state as id → payload and vector, read through scroll (checks uniqueness). */
async function readAll(index: EmbeddedFaceIndex): Promise<Map<string, { payload: unknown; vector: Float32Array }>> {
  const out = new Map<string, { payload: unknown; vector: Float32Array }>();
  let cursor: string | undefined;
  do {
    const page = await index.scroll('crash', { limit: 1000, cursor });
    const vectors = await index.getVectors('crash', page.items.map((h) => h.id));
    page.items.forEach((h, i) => {
      expect(out.has(h.id)).toBe(false); // no id twice
      out.set(h.id, { payload: h.payload, vector: vectors[i]! });
    });
    cursor = page.next;
  } while (cursor);
  expect(await index.count('crash')).toBe(out.size);
  return out;
}

function matches(actual: Map<string, { payload: unknown; vector: Float32Array }>, n: number): boolean {
  const model = modelAfter(n);
  if (model.size !== actual.size) return false;
  for (const [id, face] of model) {
    const a = actual.get(id);
    if (!a || !isDeepStrictEqual(a.payload, face.payload) || !sameVector(a.vector, face.vector)) return false;
  }
  return true;
}

function sameVector(a: Float32Array, b: Float32Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

async function crashAndVerify(run: Run): Promise<{ acked: number; survived: number; lines: string[] }> {
  const dir = path.join(work, `index-${Math.random().toString(36).slice(2)}`);
  const { acked, lines } = await runAndKill(dir, run);
  expect(acked).toBeGreaterThan(0);

  const index = await EmbeddedFaceIndex.open(dir, { threads: 2 });
  const state = await readAll(index);
  // Exactly the acknowledged writes, or those plus the whole write that was in flight.
  const survived = matches(state, acked) ? acked : matches(state, acked + 1) ? acked + 1 : -1;
  if (survived < 0) throw new Error(`after the crash the index holds neither the first ${acked} writes nor ${acked + 1}`);

  // Search finds faces by their own vectors.
  const ids = [...state.keys()];
  for (const id of [ids[0], ids[Math.floor(ids.length / 2)], ids[ids.length - 1]]) {
    const [top] = await index.search('crash', state.get(id)!.vector, { k: 1 });
    expect(top.id).toBe(id);
    expect(top.score).toBeCloseTo(1, 5);
  }
  await index.close();

  // The recovered state, checkpointed on close, reads back the same.
  const again = await EmbeddedFaceIndex.open(dir, { threads: 2 });
  expect(matches(await readAll(again), survived)).toBe(true);
  await again.close();
  expect(readdirSync(path.join(dir, 'crash')).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  return { acked, survived, lines };
}

describe('crash recovery after SIGKILL', () => {
  it('keeps every acknowledged write when killed between checkpoints (WAL replay only)', async () => {
    await crashAndVerify({ checkpointEvery: 100_000, killAfterAcks: 30 + Math.floor(Math.random() * 10), jitterMs: 15 });
  });

  it('keeps every acknowledged write when killed at a random moment among frequent checkpoints', async () => {
    const { lines } = await crashAndVerify({ checkpointEvery: 3, killAfterAcks: 30 + Math.floor(Math.random() * 10), jitterMs: 15 });
    expect(lines.some((l) => l.startsWith('checkpoint end'))).toBe(true);
  });

  it('recovers the previous generation when killed inside a checkpoint before its manifest switch', async () => {
    const { lines } = await crashAndVerify({ checkpointEvery: 3, pauseAt: { phase: 'written', checkpoint: 10 } });
    expect(lines.filter((l) => l.startsWith('checkpoint end'))).toHaveLength(9);
  });

  it('recovers the new generation when killed inside a checkpoint after its manifest switch', async () => {
    const { lines } = await crashAndVerify({ checkpointEvery: 3, pauseAt: { phase: 'committed', checkpoint: 10 } });
    expect(lines.filter((l) => l.startsWith('checkpoint end'))).toHaveLength(9);
  });

  it('keeps every acknowledged upsert when killed with 16 upserts in flight (group commit, checkpoints)', async () => {
    const dir = path.join(work, `index-${Math.random().toString(36).slice(2)}`);
    const { lines } = await runAndKill(dir, { checkpointEvery: 4, concurrent: 16, killAfterAcks: 150 + Math.floor(Math.random() * 50), jitterMs: 20 });
    const acked = new Set(lines.filter((l) => l.startsWith('ack ')).map((l) => Number(l.slice(4))));
    expect(acked.size).toBeGreaterThanOrEqual(150);
    expect(lines.some((l) => l.startsWith('checkpoint end'))).toBe(true);

    const index = await EmbeddedFaceIndex.open(dir, { threads: 2 });
    const state = await readAll(index); // also checks that no id appears twice
    await index.close();
    // Which batches survived: each one wholly (exact vectors and payloads) or not at all.
    const survived: number[] = [];
    let faces = 0;
    for (let n = 0; n <= Math.max(...acked) + 16; n++) {
      const batch = concurrentUpsert(n);
      const present = batch.filter((f) => {
        const got = state.get(f.id);
        return got && sameVector(got.vector, f.vector) && isDeepStrictEqual(got.payload, f.payload);
      }).length;
      if (present !== 0 && present !== CRASH_BATCH) throw new Error(`batch ${n} survived in part: ${present} of ${CRASH_BATCH} faces`);
      if (present === CRASH_BATCH) {
        survived.push(n);
        faces += present;
      }
    }
    expect(state.size).toBe(faces); // nothing but whole batches
    for (const n of acked) expect(survived).toContain(n); // no acknowledged face lost
    // The log is appended in submission order: what survived is a prefix of it.
    expect(survived).toEqual(survived.map((_, i) => i));
  });
});
