import { QUEUES, photoJobId } from '@facepipe/contracts';
import { JobStore, Queues, settlePhoto } from '@facepipe/pipeline';
import { type BeforeApplicationShutdown, Injectable, type OnApplicationBootstrap } from '@nestjs/common';
import { GatewayLogger } from '../common/gateway-logger';

/**
 * How long an add may take from counting its photos to queueing them. Far more than the seconds
 * 10,000 photos take: an add older than this with no mark is one whose gateway died.
 */
export const STRANDED_AFTER_MS = 10 * 60_000;
const SWEEP_EVERY_MS = 60_000;

/**
 * A gateway killed between counting an add's photos on their job and queueing them leaves photos
 * the job waits for and no worker will ever settle: the job could never complete. Every gateway
 * looks for such adds every minute (and at boot) and settles each of their photos that has no
 * detect job of that batch job as failed, SUBMISSION_INTERRUPTED, so the job completes and a
 * client (or `facepipe ingest` on its rerun) sends them again. A photo that was queued before the
 * crash is left to its workers. Several gateways sweeping at once settle a photo to the same
 * result: settling is idempotent.
 */
@Injectable()
export class StrandedAddSweep implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer?: NodeJS.Timeout;
  /** The sweep in progress, if any: a tick while one runs is skipped. */
  private running?: Promise<void>;

  constructor(
    private readonly jobs: JobStore,
    private readonly queues: Queues,
    private readonly logger: GatewayLogger,
  ) {}

  onApplicationBootstrap(): void {
    const tick = () => {
      if (this.running) return;
      this.running = this.sweep(Date.now() - STRANDED_AFTER_MS)
        .then(
          () => undefined,
          (err: unknown) => this.logger.warn('could not sweep for stranded photos', { error: err instanceof Error ? err.message : String(err) }),
        )
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, SWEEP_EVERY_MS).unref();
  }

  /** Settles the unqueued photos of adds counted before `before` (ms); returns how many. */
  async sweep(before: number): Promise<number> {
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

  async beforeApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running; // Redis closes after this hook
  }
}
