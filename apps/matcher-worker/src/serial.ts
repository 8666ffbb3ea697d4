/**
 * Runs tasks one at a time, in arrival order. The matcher's index writers (photo matching and the
 * index operations: merges, moves, erasure, reclustering) all go through one instance, so each sees
 * the index exactly as the previous one left it — a new person is visible to the next face, and a
 * merge never races a face joining the person it removes.
 */
export class Serial {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
