import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';

const PING_TIMEOUT_MS = 1_000;

@Injectable()
export class HealthService {
  constructor(private readonly redis: Redis) {}

  /** True when Redis answers a PING within a second (commands queue while it reconnects, hence the timeout). */
  async redisAnswers(): Promise<boolean> {
    if (this.redis.status !== 'ready') return false;
    let timer: NodeJS.Timeout | undefined;
    try {
      const pong = await Promise.race([
        this.redis.ping(),
        new Promise<null>((resolve) => {
          timer = setTimeout(() => resolve(null), PING_TIMEOUT_MS);
        }),
      ]);
      return pong === 'PONG';
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}
