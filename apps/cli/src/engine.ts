import { FaceEngine, chosenManifest } from '@facepipe/face-engine';
import os from 'node:os';

/** The engine settings every in-process command takes (--manifest, --threads, --max-pixels, --min-face). */
export interface EngineOptions {
  manifest?: string;
  threads?: number;
  maxPixels?: number;
  minFaceSize?: number;
}

/** The face engine as `detect`, `embed`, `verify` and `calibrate` all run it: one path, one set of models. */
export async function openEngine(opts: EngineOptions): Promise<FaceEngine> {
  return FaceEngine.create({
    manifest: chosenManifest({ file: opts.manifest, minFaceSize: opts.minFaceSize }),
    intraOpThreads: opts.threads ?? os.availableParallelism(),
    maxPixels: opts.maxPixels,
  });
}

/** Photos in flight at once: decoding the next one overlaps inference on the current one. */
const IN_FLIGHT = 2;

/** Maps items with up to IN_FLIGHT running at once, handing results to `emit` in input order. */
export async function forEachInOrder<T, R>(items: readonly T[], work: (item: T) => Promise<R>, emit: (result: R) => void): Promise<void> {
  const pending: Promise<R>[] = [];
  let next = 0;
  while (next < items.length || pending.length > 0) {
    while (next < items.length && pending.length < IN_FLIGHT) pending.push(work(items[next++]));
    emit(await pending.shift()!);
  }
}
