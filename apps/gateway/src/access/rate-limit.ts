import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { Redis } from 'ioredis';
import type { Observable } from 'rxjs';
import { ApiError } from '../common/api-error';
import { InjectConfig, type GatewayConfig, rateLimitOptions } from '../config/gateway-config';
import { principalOf } from './principal';

const RATE_LIMITED = 'facepipe:rate-limited';

/**
 * Puts a route under the per-key rate limit (FACEPIPE_RATE_LIMIT requests per second, bursts of
 * FACEPIPE_RATE_LIMIT_BURST): the synchronous calls (search, verify, detect, enrol), which hold a
 * worker while the client waits. One bucket per key across all such routes; 429 RATE_LIMITED with
 * `retry-after` when it is empty. Sits next to @Access(...); every guard (access, the route's own
 * such as "the collection exists") is checked first, so a refused request takes no token.
 */
export const RateLimited = (): MethodDecorator => SetMetadata(RATE_LIMITED, true);

/**
 * A token bucket in Redis, so that every gateway replica draws from the same one. One atomic
 * script: refill by the time elapsed (Redis's own clock, so replicas' clocks do not matter), take a
 * token if there is one, else say how long until there is. Idle buckets expire once full again.
 */
const TAKE_TOKEN = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return { allowed, wait }
`;

type RateLimitCommands = { facepipeTakeToken(key: string, rate: string, burst: string): Promise<[number, number]> };

@Injectable()
export class RateLimiter {
  private readonly redis: Redis & RateLimitCommands;
  private readonly prefix: string;
  readonly perSecond: number;
  readonly burst: number;

  constructor(redis: Redis, @InjectConfig() config: GatewayConfig) {
    redis.defineCommand('facepipeTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN });
    this.redis = redis as Redis & RateLimitCommands;
    this.prefix = `${config.prefix}:ratelimit`;
    ({ perSecond: this.perSecond, burst: this.burst } = rateLimitOptions(config));
  }

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /** Takes one token from `who`'s bucket: allowed, or how many ms until a token is back. */
  async take(who: string): Promise<{ allowed: boolean; retryAfterMs: number }> {
    const [allowed, wait] = await this.redis.facepipeTakeToken(`${this.prefix}:${who}`, String(this.perSecond), String(this.burst));
    return { allowed: allowed === 1, retryAfterMs: wait };
  }
}

/**
 * Enforces @RateLimited() per issued key, for the admin key as one, and per client IP when no key
 * is configured. An interceptor, not a guard: Nest runs global guards before a route's own, so a
 * guard here would charge a token to a request that a route guard then refuses (404 for a
 * collection or identity that does not exist). Global interceptors run after every guard and
 * before the route's upload interceptor, so a limited request is refused before its body is read.
 */
@Injectable()
export class RateLimitInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    private readonly limiter: RateLimiter,
  ) {}

  async intercept(context: ExecutionContext, next: CallHandler): Promise<Observable<unknown>> {
    if (!this.limiter.enabled || !this.reflector.get<boolean | undefined>(RATE_LIMITED, context.getHandler())) return next.handle();
    const req = context.switchToHttp().getRequest<Request>();
    const { allowed, retryAfterMs } = await this.limiter.take(bucketOf(req));
    if (allowed) return next.handle();
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    context.switchToHttp().getResponse<Response>().setHeader('retry-after', String(seconds));
    throw new ApiError(429, 'RATE_LIMITED', `Rate limit of ${this.limiter.perSecond} requests per second exceeded; retry in ${seconds} s`);
  }
}

function bucketOf(req: Request): string {
  const principal = principalOf(req);
  if (principal?.kind === 'key') return `key:${principal.id}`;
  if (principal?.kind === 'admin' && principal.via === 'admin-key') return 'admin';
  return `ip:${req.ip ?? req.socket.remoteAddress ?? 'unknown'}`;
}
