import { QUEUES, photoJobId } from '@facepipe/contracts';
import { JobStore, Queues, sealJob, settlePhoto } from '@facepipe/pipeline';
import { type BeforeApplicationShutdown, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { GatewayLogger } from '../common/gateway-logger';
import { PeriodicTask } from '../common/periodic-task';

/**
 * How long a submission may take from counting its photos (or creating its job) to queueing them
 * and answering. Far more than the seconds 10,000 photos take: one older than this that is still
 * unmarked is one whose gateway died.
 */
export const STRANDED_AFTER_MS = 10 * 60_000;
export const SWEEP_EVERY_MS = 60_000;

/**
 * Finishes what a gateway killed mid-submission left undone, so that every job still completes.
 * Every gateway sweeps every minute (and at boot):
 * - Photos counted on their job but never queued (a gateway killed between the two): each photo of
 *   such an add that has no detect job of that batch job is settled as failed,
 *   SUBMISSION_INTERRUPTED, and a client (or `facepipe ingest` on its rerun) sends it again. A photo
 *   queued before the crash is left to its workers.
 * - Jobs whose creating request never answered (the gateway died, or failed, before handing the id
 *   out): nobody can add to them or seal them, so they are sealed here. They complete once their
 *   photos settle, fire their webhook as any job does, and expire with the retention.
 * Several gateways sweeping at once reach the same result: settling and sealing are idempotent.
 */
@Injectable()
export class InterruptedSubmissionSweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly task: PeriodicTask;

  constructor(
    private readonly jobs: JobStore,
    private readonly queues: Queues,
    private readonly logger: GatewayLogger,
  ) {
    this.task = new PeriodicTask('sweep for interrupted submissions', SWEEP_EVERY_MS, async () => void (await this.sweep(Date.now() - STRANDED_AFTER_MS)), logger);
  }

  onApplicationBootstrap(): void {
    this.task.start();
  }

  /** Finishes the submissions interrupted before `before` (ms): how many photos it settled and jobs it sealed. */
  async sweep(before: number): Promise<{ photos: number; jobs: number }> {
    // Photos first: a job sealed with all of them settled completes at once.
    return { photos: await this.settleStrandedAdds(before), jobs: await this.sealUnansweredJobs(before) };
  }

  private async settleStrandedAdds(before: number): Promise<number> {
    const detect = this.queues.get(QUEUES.detect);
    let settled = 0;
    for (;;) {
      const adds = await this.jobs.strandedAdds(before);
      if (adds.length === 0) return settled;
      for (const add of adds) {
        let lost = 0;
        for (const key of add.keys) {
          const queued = await detect.getJob(photoJobId(add.collection, key));
          if (queued?.data?.jobId === add.jobId) continue; // queued before the crash: its workers settle it
          lost++;
          await settlePhoto(this.queues, this.jobs, add.jobId, {
            key,
            status: 'failed',
            faces: [],
            error: { code: 'SUBMISSION_INTERRUPTED', message: 'The gateway stopped before this photo was queued; submit it again' },
          });
        }
        if (lost > 0) this.logger.warn('settled the unqueued photos of an interrupted add as failed', { jobId: add.jobId, photos: lost });
        settled += lost;
        await this.jobs.markQueued(add.token);
      }
    }
  }

  private async sealUnansweredJobs(before: number): Promise<number> {
    let sealed = 0;
    for (;;) {
      const ids = await this.jobs.unansweredCreates(before);
      if (ids.length === 0) return sealed;
      for (const id of ids) {
        const view = await this.jobs.get(id);
        // Gone (expired, or its collection deleted) or sealed already: nothing left to finish.
        if (view && !view.sealed) {
          await sealJob(this.queues, this.jobs, id);
          this.logger.warn('sealed a job whose creating request never answered', { jobId: id, photos: view.total });
          sealed++;
        }
        await this.jobs.markAnswered(id);
      }
    }
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.task.stop(); // Redis closes after this hook
  }
}
