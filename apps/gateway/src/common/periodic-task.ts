import type { GatewayLogger } from './gateway-logger';

/**
 * A background task a gateway runs at boot and then every `everyMs`: a tick while the previous run
 * is still going is skipped, a failure is logged and retried at the next tick, and `stop` waits
 * for the run in progress (call it before Redis closes). For the sweeps that finish what a gateway
 * killed mid-request left undone.
 */
export class PeriodicTask {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    private readonly what: string,
    private readonly everyMs: number,
    private readonly run: () => Promise<void>,
    private readonly logger: GatewayLogger,
  ) {}

  start(): void {
    const tick = () => {
      if (this.running) return;
      this.running = this.run()
        .catch((err: unknown) => this.logger.warn(`could not ${this.what}`, { error: err instanceof Error ? err.message : String(err) }))
        .finally(() => (this.running = undefined));
    };
    tick();
    this.timer = setInterval(tick, this.everyMs).unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }
}
