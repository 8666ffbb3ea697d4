import { Module } from '@nestjs/common';
import { APP_GUARD, DiscoveryModule } from '@nestjs/core';
import { AccessGuard } from './access.guard';
import { AccessRoutes } from './access-routes';
import { RateLimitGuard, RateLimiter } from './rate-limit';

/**
 * Authorisation: the global AccessGuard (each route's @Access declaration), then the global
 * RateLimitGuard (@RateLimited routes). Global guards run in this order, before any route's own
 * guards and interceptors. The principal itself comes from the API-key middleware.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: APP_GUARD, useClass: AccessGuard },
    { provide: APP_GUARD, useClass: RateLimitGuard },
    RateLimiter,
    AccessRoutes,
  ],
  exports: [RateLimiter, AccessRoutes],
})
export class AccessModule {}
