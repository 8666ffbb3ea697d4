import { collectionOfFaceId } from '@facepipe/contracts';
import { JobStore } from '@facepipe/pipeline';
import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { collectionNotFound } from '../collections/collections.service';
import { ApiError } from '../common/api-error';
import { GatewayLogger } from '../common/gateway-logger';
import { jobNotFound } from '../jobs/jobs.service';
import { routeOf } from '../metrics/metrics.service';
import { ACCESS_METADATA, type AccessRule, type ResourceKind } from './access.decorator';
import { principalOf } from './principal';

/** FACE_NOT_FOUND, the answer for a face id that is not there (or not the caller's). */
export function faceNotFound(faceId: string): ApiError {
  return ApiError.notFound('FACE_NOT_FOUND', `Face ${faceId} does not exist`);
}

/**
 * Enforces each route's @Access declaration (access.decorator.ts) for the principal the API-key
 * middleware resolved. Global, so it runs before every route's own guards and interceptors: an
 * upload a key may not make is refused before a byte of it is stored.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly jobs: JobStore,
    private readonly logger: GatewayLogger,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_METADATA, [context.getHandler(), context.getClass()]);
    if (rule?.kind === 'public') return true;
    const req = context.switchToHttp().getRequest<Request>();
    const principal = principalOf(req);
    if (!principal) throw new ApiError(401, 'UNAUTHORIZED', 'Missing x-api-key header'); // the middleware skipped an open path
    if (principal.kind === 'admin') return true;

    if (!rule) {
      // Fail closed: a route nobody classified is the admin key's alone.
      this.logger.warn('route without an access declaration refused', { route: routeOf(req), method: req.method, keyId: principal.id });
      throw new ApiError(403, 'FORBIDDEN', 'This route is open to the admin key only');
    }
    if (rule.kind === 'admin-key') throw this.deny(req, principal.id, 'admin-key', new ApiError(403, 'FORBIDDEN', 'This route needs the admin key'));

    if (rule.resource) {
      const value = String(req.params[rule.resource.param] ?? '');
      const collection = await this.collectionOf(rule.resource.kind, value);
      // A collection the key lacks does not exist, as far as the key can tell: the same 404 as for a missing one.
      if (collection === null || !principal.collections.has(collection)) {
        throw this.deny(req, principal.id, rule.resource.kind, notFound(rule.resource.kind, value));
      }
    }
    if (!principal.scopes.has(rule.scope)) {
      throw this.deny(req, principal.id, 'scope', new ApiError(403, 'FORBIDDEN', `This API key lacks the "${rule.scope}" scope`));
    }
    return true;
  }

  /** The collection a route param designates, or null when there is none (an unknown job, a malformed face id). */
  private async collectionOf(kind: ResourceKind, value: string): Promise<string | null> {
    if (kind === 'collection') return value;
    if (kind === 'face') return collectionOfFaceId(value);
    return (await this.jobs.get(value))?.collection ?? null;
  }

  /** Denials are logged (who, which route, why) for audits; the answer itself says no more than a missing resource would. */
  private deny(req: Request, keyId: string, reason: ResourceKind | 'scope' | 'admin-key', error: ApiError): ApiError {
    this.logger.info('access denied', { keyId, method: req.method, route: routeOf(req), reason, status: error.status });
    return error;
  }
}

function notFound(kind: ResourceKind, value: string): ApiError {
  if (kind === 'collection') return collectionNotFound(value);
  if (kind === 'job') return jobNotFound(value);
  return faceNotFound(value);
}
