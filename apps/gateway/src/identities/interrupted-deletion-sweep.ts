import { type BeforeApplicationShutdown, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { CollectionsRepository } from '../collections/collections.repository';
import { GatewayLogger } from '../common/gateway-logger';
import { PeriodicTask } from '../common/periodic-task';
import { EraseService } from '../erase/erase.service';
import { STRANDED_AFTER_MS, SWEEP_EVERY_MS } from '../jobs/interrupted-submission-sweep';
import { IdentitiesRepository } from './identities.repository';
import { IdentitiesService } from './identities.service';

/**
 * Finishes deletions that a gateway killed mid-request left half-done. A DELETE of a collection,
 * or of an identity, first takes the name or the record away and marks the deletion in progress;
 * then it erases (or detaches) the faces, thumbnails and blobs, and clears the mark. Cut off in
 * between, the data stays until someone repeats the DELETE (which resumes it), and a half-deleted
 * collection's name cannot be used again. So every gateway sweeps every minute: a deletion it has
 * seen marked for STRANDED_AFTER_MS is resumed exactly as a repeated DELETE would.
 *
 * Staleness is measured from when this gateway first saw the mark, not from a stored start time:
 * no clock is compared across machines and the marks keep their format. A gateway that restarts
 * starts counting again (it resumes 10 minutes later), and resuming a deletion that is in fact
 * still running is harmless: every step is idempotent.
 */
@Injectable()
export class InterruptedDeletionSweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly task: PeriodicTask;
  /** Deletion in progress → when this gateway first saw it (ms). */
  private firstSeen = new Map<string, number>();

  constructor(
    private readonly collections: CollectionsRepository,
    private readonly identityRecords: IdentitiesRepository,
    private readonly identities: IdentitiesService,
    private readonly erase: EraseService,
    private readonly logger: GatewayLogger,
  ) {
    this.task = new PeriodicTask('sweep for interrupted deletions', SWEEP_EVERY_MS, async () => void (await this.sweep(Date.now())), logger);
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  /** Resumes the deletions seen in progress for STRANDED_AFTER_MS by `now` (ms); how many of each it finished. */
  async sweep(now: number): Promise<{ collections: number; identities: number }> {
    const seen = new Map<string, number>();
    const stale = (key: string): boolean => {
      const first = this.firstSeen.get(key) ?? now;
      seen.set(key, first);
      return now - first >= STRANDED_AFTER_MS;
    };
    const done = { collections: 0, identities: 0 };
    const deletingCollections = await this.collections.deleting();
    const identityDeletions = await this.identityRecords.deletionsInProgress(await this.collections.names());
    for (const name of deletingCollections) {
      if (!stale(`collection\n${name}`)) continue;
      if (await this.resume({ collection: name }, () => this.erase.eraseCollection(name))) done.collections++;
    }
    for (const { collection, id, mode } of identityDeletions) {
      if (!stale(`identity\n${collection}\n${id}`)) continue;
      if (await this.resume({ collection, identityId: id, mode }, () => this.identities.delete(collection, id, mode === 'erase'))) done.identities++;
    }
    this.firstSeen = seen; // finished deletions are forgotten
    return done;
  }

  private async resume(what: Record<string, string>, finish: () => Promise<unknown>): Promise<boolean> {
    try {
      await finish();
      this.logger.warn('finished a deletion that its request left half-done', what);
      return true;
    } catch (err) {
      // Finished meanwhile (404), or the matcher is busy or down: the next sweep tries again.
      this.logger.warn('could not finish an interrupted deletion', { ...what, error: err instanceof Error ? err.message : String(err) });
      return false;
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.task.stop(); // Redis closes after this hook
  }
}
