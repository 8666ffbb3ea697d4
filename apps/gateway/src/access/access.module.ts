import { Module } from '@nestjs/common';
import { APP_GUARD, APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import { AccessGuard } from './access.guard';
import { AccessRoutes } from './access-routes';
import { RateLimitInterceptor, RateLimiter } from './rate-limit';

/**
 * Authorisation: the global AccessGuard (each route's @Access declaration), which runs before any
 * route's own guards; then, once every guard has let the request through, the global
 * RateLimitInterceptor (@RateLimited routes), before any route's own interceptors. The principal
 * itself comes from the API-key middleware.
 */
@Module({
  imports: [DiscoveryModule],
  providers: [
    { provide: APP_GUARD, useClass: AccessGuard },
    { provide: APP_INTERCEPTOR, useClass: RateLimitInterceptor },
    RateLimiter,
    AccessRoutes,
  ],
  exports: [RateLimiter, AccessRoutes],
})
export class AccessModule {}
