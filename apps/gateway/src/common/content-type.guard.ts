import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError } from './api-error';

const ACCEPTS = 'facepipe:accepts';

/** The request body media types a route accepts; anything else is 415. */
export const Accepts = (...types: string[]) => SetMetadata(ACCEPTS, types);

/** Enforces `@Accepts(...)` before interceptors (an upload is not read when its type is wrong). */
@Injectable()
export class ContentTypeGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const types = this.reflector.getAllAndOverride<string[] | undefined>(ACCEPTS, [context.getHandler(), context.getClass()]);
    if (!types || types.length === 0) return true;
    const req = context.switchToHttp().getRequest<Request>();
    const contentType = req.headers['content-type'];
    if (contentType && req.is(types)) return true;
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be ${types.join(' or ')}${contentType ? `, not ${contentType.split(';')[0]}` : ''}`,
    );
  }
}
