import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger';

export interface HealthServerOptions {
  host: string;
  port: number;
  registry: Registry;
  logger: Logger;
  /** /readyz answers 200 only when this resolves true (within `checkTimeoutMs`). */
  ready(): Promise<boolean>;
  /** Runs before each /metrics scrape, e.g. to refresh queue depths; errors are logged, not fatal. */
  beforeScrape?(): Promise<void>;
  checkTimeoutMs?: number;
}

/**
 * The probe and metrics endpoints of a worker process: /healthz (the process is alive), /readyz
 * (it can do work: Redis answers, models are loaded; 503 once draining so that traffic and
 * autoscalers move on) and /metrics (Prometheus text).
 */
export class HealthServer {
  private server?: http.Server;
  private draining = false;

  constructor(private readonly opts: HealthServerOptions) {}

  /** Starts listening; resolves with the bound port. */
  listen(): Promise<number> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.logger.error('health endpoint failed', { path: req.url, error: err });
        if (!res.headersSent) send(res, 500, 'application/json', JSON.stringify({ status: 'error' }));
        else res.destroy();
      });
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      const failed = (err: Error) => reject(listenError(err, this.opts.host, this.opts.port, 'FACEPIPE_METRICS_PORT'));
      server.once('error', failed);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', failed);
        resolve((server.address() as AddressInfo).port);
      });
    });
  }

  /** From now on /readyz answers 503. */
  setDraining(): void {
    this.draining = true;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // keep-alive scrapers would hold close() open otherwise
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
      case '/readyz': {
        const ready = !this.draining && (await this.withTimeout(this.opts.ready().catch(() => false), false));
        const status = this.draining ? 'draining' : ready ? 'ready' : 'not ready';
        return send(res, ready ? 200 : 503, 'application/json', JSON.stringify({ status }));
      }
      case '/metrics': {
        if (this.opts.beforeScrape) {
          try {
            await this.withTimeout(this.opts.beforeScrape(), undefined);
          } catch (err) {
            this.opts.logger.warn('metrics refresh failed', { error: err });
          }
        }
        return send(res, 200, this.opts.registry.contentType, await this.opts.registry.metrics());
      }
      default:
        return send(res, 404, 'text/plain', 'not found\n');
    }
  }

  /** A probe must answer even when Redis hangs: after the timeout, `fallback`. */
  private async withTimeout<T>(p: Promise<T>, fallback: T): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<T>((resolve) => {
      timer = setTimeout(() => resolve(fallback), this.opts.checkTimeoutMs ?? 2_000);
    });
    try {
      return await Promise.race([p, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/**
 * A failure to listen, said as the setting to change: a port in use or privileged names its
 * variable, a host that is no address of this machine names HOST. Others keep their message.
 */
export function listenError(err: unknown, host: string, port: number, portVariable: string): Error {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why: Record<string, string> = {
    EADDRINUSE: `port ${port} is already in use (${portVariable}): stop what holds it, or choose another port`,
    EACCES: `port ${port} needs privileges (${portVariable}): choose one above 1023`,
    EADDRNOTAVAIL: `HOST ${host} is not an address of this machine`,
    ENOTFOUND: `HOST ${host} does not resolve to an address`,
    EAI_AGAIN: `HOST ${host} could not be resolved (DNS did not answer)`,
  };
  const message = code !== undefined ? why[code] : undefined;
  return message ? new Error(`cannot listen on ${host}:${port}: ${message}`, { cause: err }) : err instanceof Error ? err : new Error(String(err));
}
