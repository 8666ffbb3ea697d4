/**
 * The deterministic stream of writes the crash test's child process makes, and a model of the
 * state after the first n of them, so the test can say exactly what must have survived.
 */
import { rng, unit } from '../../conformance/face-index.conformance';
import type { FacePayload, IndexedFace } from '../../face-index';

export const CRASH_DIM = 128;
export const CRASH_BATCH = 40;

export type CrashOp =
  | { kind: 'upsert'; faces: IndexedFace[] }
  | { kind: 'delete'; ids: string[] }
  | { kind: 'setPayload'; ids: string[]; patch: Partial<FacePayload> };

/** Op o of the stream: batches of new faces, a re-upsert of an earlier face, deletes, patches. */
export function* crashOps(): Generator<CrashOp> {
  for (let i = 0; ; i++) {
    const faces: IndexedFace[] = [];
    for (let j = 0; j < CRASH_BATCH; j++) {
      faces.push({ id: `b${i}-${j}`, vector: unit(rng(i * 1000 + j + 1), CRASH_DIM), payload: { photoKey: `photo${i}`, jobId: `job${i % 3}`, j } });
    }
    // Replaces an earlier face: vector and payload both change.
    if (i > 0) faces.push({ id: `b${i - 1}-0`, vector: unit(rng(1e6 + i), CRASH_DIM), payload: { photoKey: `photo${i - 1}`, rev: i } });
    yield { kind: 'upsert', faces };
    if (i % 5 === 4) yield { kind: 'delete', ids: [`b${i - 2}-1`, `b${i - 3}-2`, 'never-existed'] };
    if (i % 7 === 6) yield { kind: 'setPayload', ids: [`b${i - 1}-3`], patch: { personId: `person${i}`, j: undefined } };
  }
}

export interface ModelFace {
  vector: Float32Array;
  payload: FacePayload;
}

/** The state after the first `n` ops. */
export function modelAfter(n: number): Map<string, ModelFace> {
  const state = new Map<string, ModelFace>();
  let o = 0;
  for (const op of crashOps()) {
    if (o++ === n) break;
    if (op.kind === 'upsert') for (const f of op.faces) state.set(f.id, { vector: f.vector, payload: f.payload });
    else if (op.kind === 'delete') for (const id of op.ids) state.delete(id);
    else {
      for (const id of op.ids) {
        const face = state.get(id);
        if (!face) continue;
        const payload: FacePayload = { ...face.payload, ...op.patch };
        for (const [k, v] of Object.entries(op.patch)) if (v === undefined) delete payload[k];
        state.set(id, { ...face, payload });
      }
    }
  }
  return state;
}

/**
 * Op n of the concurrent stream: a batch of new faces (ids never reused), so that with many
 * upserts in flight at once the surviving state says exactly which whole batches made it.
 */
export function concurrentUpsert(n: number): IndexedFace[] {
  const faces: IndexedFace[] = [];
  for (let j = 0; j < CRASH_BATCH; j++) {
    faces.push({ id: `c${n}-${j}`, vector: unit(rng(5e6 + n * 1000 + j), CRASH_DIM), payload: { photoKey: `photo${n}`, j } });
  }
  return faces;
}
