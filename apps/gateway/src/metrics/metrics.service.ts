import { Queues, createMetrics, type Metrics } from '@facepipe/pipeline';
import { Injectable } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram } from 'prom-client';
import { GatewayLogger } from '../common/gateway-logger';

const DEPTH_TIMEOUT_MS = 2_000;

/** facepipe_webhook_deliveries_total outcomes (the pipeline's names, plus `skipped`: job or webhook gone). */
export type WebhookOutcome = 'delivered' | 'retried' | 'dead' | 'skipped';

/**
 * The gateway's Prometheus metrics: the pipeline's standard set (`createMetrics('gateway')`, its own
 * registry; webhook deliveries and queue depths among them) plus HTTP request counts and latency.
 */
@Injectable()
export class MetricsService {
  private readonly metrics: Metrics;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpSeconds: Histogram<'method' | 'route'>;

  constructor(
    private readonly queues: Queues,
    private readonly logger: GatewayLogger,
  ) {
    this.metrics = createMetrics('gateway');
    const registers = [this.metrics.registry];
    this.httpRequests = new Counter({
      name: 'facepipe_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpSeconds = new Histogram({
      name: 'facepipe_http_request_seconds',
      help: 'HTTP request latency in seconds, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });
  }

  webhookDelivery(outcome: WebhookOutcome): void {
    this.metrics.webhookDeliveries.inc({ outcome });
  }

  /** Prometheus text; queue depths (facepipe_queue_depth{queue,state}) are read from Redis first. */
  async render(): Promise<{ contentType: string; body: string }> {
    await this.refreshQueueDepths();
    return { contentType: this.metrics.registry.contentType, body: await this.metrics.registry.metrics() };
  }

  private async refreshQueueDepths(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const depths = await Promise.race([
        this.queues.depths(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${DEPTH_TIMEOUT_MS} ms`)), DEPTH_TIMEOUT_MS);
        }),
      ]);
      for (const [queue, counts] of Object.entries(depths)) {
        for (const [state, n] of Object.entries(counts)) this.metrics.queueDepth.set({ queue, state }, n);
      }
    } catch (err) {
      this.logger.warn('reading queue depths failed', { error: err instanceof Error ? err.message : String(err) });
    } finally {
      clearTimeout(timer);
    }
  }

  /** Express middleware: counts and times every response by its route pattern (not its URL). */
  httpMiddleware() {
    return (req: Request, res: Response, next: NextFunction): void => {
      const end = this.httpSeconds.startTimer();
      res.once('finish', () => {
        const route = routeOf(req);
        end({ method: req.method, route });
        this.httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      });
      next();
    };
  }
}

/** The matched route pattern (`/v1/jobs/:id`), so label values stay few; `unmatched` otherwise. */
export function routeOf(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl ?? ''}${path}` : 'unmatched';
}
