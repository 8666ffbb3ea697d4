import { ConfigError, type ConfigIssue, loadConfig, type ServiceConfig } from '@facepipe/pipeline';
import { Inject } from '@nestjs/common';
import { isIP } from 'node:net';

/** Injection token of the gateway's configuration (an interface, so it needs a token). */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');

/** Parameter decorator injecting the GatewayConfig. */
export const InjectConfig = () => Inject(GATEWAY_CONFIG);

/** The shared service configuration plus what only the gateway reads (all optional, with defaults). */
export interface GatewayConfig extends ServiceConfig {
  /** FACEPIPE_WEBHOOK_BACKOFF_MS: delay before the first webhook retry, doubled per attempt up to 1 h (default 2000). */
  webhookBackoffMs?: number;
  /** FACEPIPE_WEBHOOK_TIMEOUT_MS: time limit of one delivery attempt (default 10000). */
  webhookTimeoutMs?: number;
  /** FACEPIPE_WEBHOOK_CONCURRENCY: deliveries in flight per gateway process (default 8). */
  webhookConcurrency?: number;
  /** FACEPIPE_JSON_BODY_LIMIT: largest JSON request body in bytes (default 16 MiB: room for 10,000 items). */
  jsonBodyLimit?: number;
  /** FACEPIPE_RATE_LIMIT: synchronous calls per second per key (0 = off; default 10). */
  rateLimit?: number;
  /** FACEPIPE_RATE_LIMIT_BURST: calls a key may make at once (default twice the rate, at least 1). */
  rateLimitBurst?: number;
}

export const RATE_LIMIT_DEFAULT = 10;

export const GATEWAY_DEFAULTS = {
  webhookBackoffMs: 2_000,
  webhookTimeoutMs: 10_000,
  webhookConcurrency: 8,
  jsonBodyLimit: 16 * 1024 * 1024,
} as const;

type GatewayOptions = { -readonly [K in keyof typeof GATEWAY_DEFAULTS]: number };

/**
 * The largest value each takes. The two delays go to setTimeout, which turns anything over
 * 2^31 − 1 ms into 1 ms (every webhook would time out at once); the others are plain sanity bounds.
 */
const GATEWAY_MAXIMA: GatewayOptions = {
  webhookBackoffMs: 3_600_000,
  webhookTimeoutMs: 600_000,
  webhookConcurrency: 1_000,
  jsonBodyLimit: 1024 * 1024 * 1024,
};

const GATEWAY_VARIABLES: Record<keyof GatewayOptions, string> = {
  webhookBackoffMs: 'FACEPIPE_WEBHOOK_BACKOFF_MS',
  webhookTimeoutMs: 'FACEPIPE_WEBHOOK_TIMEOUT_MS',
  webhookConcurrency: 'FACEPIPE_WEBHOOK_CONCURRENCY',
  jsonBodyLimit: 'FACEPIPE_JSON_BODY_LIMIT',
};

/**
 * Reads the service configuration and the gateway's own variables. Bad values throw one
 * ConfigError that names every offending variable.
 */
export function loadGatewayConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const issues: ConfigIssue[] = [];
  let base: ServiceConfig | undefined;
  try {
    base = loadConfig(env);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    issues.push(...err.issues);
  }
  const extra = {} as GatewayOptions;
  for (const [field, variable] of Object.entries(GATEWAY_VARIABLES) as [keyof GatewayOptions, string][]) {
    const raw = env[variable];
    if (raw === undefined || raw.trim() === '') {
      extra[field] = GATEWAY_DEFAULTS[field];
    } else if (/^\d+$/.test(raw.trim()) && Number(raw) > 0 && Number(raw) <= GATEWAY_MAXIMA[field]) {
      extra[field] = Number(raw);
    } else {
      issues.push({ variable, message: `must be an integer from 1 to ${GATEWAY_MAXIMA[field]}, got ${JSON.stringify(raw)}` });
    }
  }
  const rateLimit = readRateLimit(env, issues);
  // Read by GatewayLogger itself (it exists before the configuration); checked here all the same.
  const logLevel = env.FACEPIPE_LOG_LEVEL?.trim();
  if (logLevel && logLevel !== 'info' && logLevel !== 'debug') {
    issues.push({ variable: 'FACEPIPE_LOG_LEVEL', message: `must be info or debug, got ${JSON.stringify(env.FACEPIPE_LOG_LEVEL)}` });
  }
  if (issues.length > 0 || !base) throw new ConfigError(issues);
  return { ...base, ...extra, ...rateLimit };
}

/** FACEPIPE_RATE_LIMIT is a rate (decimals allowed, 0 turns it off); FACEPIPE_RATE_LIMIT_BURST a count. */
function readRateLimit(env: NodeJS.ProcessEnv, issues: ConfigIssue[]): Pick<GatewayConfig, 'rateLimit' | 'rateLimitBurst'> {
  const out: Pick<GatewayConfig, 'rateLimit' | 'rateLimitBurst'> = {};
  const rate = env.FACEPIPE_RATE_LIMIT?.trim();
  if (rate) {
    if (/^(\d+(\.\d*)?|\.\d+)$/.test(rate) && Number.isFinite(Number(rate))) out.rateLimit = Number(rate);
    else issues.push({ variable: 'FACEPIPE_RATE_LIMIT', message: `must be a number of requests per second, 0 for none, got ${JSON.stringify(env.FACEPIPE_RATE_LIMIT)}` });
  }
  const burst = env.FACEPIPE_RATE_LIMIT_BURST?.trim();
  if (burst) {
    if (/^\d+$/.test(burst) && Number.isSafeInteger(Number(burst)) && Number(burst) > 0) out.rateLimitBurst = Number(burst);
    else issues.push({ variable: 'FACEPIPE_RATE_LIMIT_BURST', message: `must be a positive integer, got ${JSON.stringify(env.FACEPIPE_RATE_LIMIT_BURST)}` });
  }
  return out;
}

/** The rate limit with its defaults filled in: `perSecond` 0 means off. */
export function rateLimitOptions(config: GatewayConfig): { perSecond: number; burst: number } {
  const perSecond = config.rateLimit ?? RATE_LIMIT_DEFAULT;
  return { perSecond, burst: config.rateLimitBurst ?? Math.max(1, Math.ceil(2 * perSecond)) };
}

/** The gateway options with their defaults filled in. */
export function gatewayOptions(config: GatewayConfig): GatewayOptions {
  return {
    webhookBackoffMs: config.webhookBackoffMs ?? GATEWAY_DEFAULTS.webhookBackoffMs,
    webhookTimeoutMs: config.webhookTimeoutMs ?? GATEWAY_DEFAULTS.webhookTimeoutMs,
    webhookConcurrency: config.webhookConcurrency ?? GATEWAY_DEFAULTS.webhookConcurrency,
    jsonBodyLimit: config.jsonBodyLimit ?? GATEWAY_DEFAULTS.jsonBodyLimit,
  };
}

/** Refusal to serve an unauthenticated API on a non-loopback address. */
export class UnsafeBindingError extends Error {
  override readonly name = 'UnsafeBindingError';
  readonly code = 'API_KEY_REQUIRED';
}

/**
 * An API reachable from other machines must not be open: bound to anything but a loopback
 * address, the gateway needs FACEPIPE_API_KEY. The message is the one line the operator sees.
 */
export function assertSafeBinding(config: Pick<ServiceConfig, 'host' | 'apiKey'>): void {
  if (!config.apiKey && !isLoopbackHost(config.host)) {
    throw new UnsafeBindingError(
      `HOST=${config.host} is not a loopback address and FACEPIPE_API_KEY is not set: refusing to serve an open API; set FACEPIPE_API_KEY or bind HOST=127.0.0.1`,
    );
  }
}

/** 127.0.0.0/8, ::1, IPv4-mapped loopback, `localhost`. Anything else (0.0.0.0, ::, a LAN address, a name) is not. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return /^(0{0,4}:){2,7}0{0,3}1$/.test(h) || /^::1$/.test(h) || /^::ffff:127\./.test(h);
  return false;
}
