import { type CanActivate, type ExecutionContext, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { ApiError } from './api-error';

const ACCEPTS = 'facepipe:accepts';

const BODY_OPTIONAL = 'facepipe:body-optional';

/** The request body media types a route accepts; anything else is 415. */
export const Accepts = (...types: string[]) => SetMetadata(ACCEPTS, types);

/** With `@Accepts`: a request without a body is let through too (a body, if any, must still be of those types). */
export const BodyOptional = () => SetMetadata(BODY_OPTIONAL, true);

/** A body is there when the request says it sends bytes (a Content-Length over 0, or chunks). */
function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** Enforces `@Accepts(...)` before interceptors (an upload is not read when its type is wrong). */
@Injectable()
export class ContentTypeGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}

  canActivate(context: ExecutionContext): boolean {
    const types = this.reflector.getAllAndOverride<string[] | undefined>(ACCEPTS, [context.getHandler(), context.getClass()]);
    if (!types || types.length === 0) return true;
    const req = context.switchToHttp().getRequest<Request>();
    if (!hasBody(req) && this.reflector.getAllAndOverride<boolean | undefined>(BODY_OPTIONAL, [context.getHandler(), context.getClass()])) return true;
    const contentType = req.headers['content-type'];
    // req.is() is null when the request has no body at all (no Content-Length, not chunked),
    // whatever its Content-Type. JSON then reads as {}, as an empty body does, so the route says
    // which fields are missing; a multipart form without a body has nothing to say.
    const declared = contentType?.split(';')[0].trim().toLowerCase();
    if (declared && types.includes(declared) && req.is(types) === null) {
      if (declared === 'application/json') {
        req.body ??= {}; // the JSON parser leaves it unset without a body
        return true;
      }
      throw ApiError.badRequest('INVALID_MULTIPART', 'The request has no body: send the multipart form');
    }
    if (contentType && req.is(types)) {
      // JSON bodies are decoded by the body parser (gzip, deflate, br; others are 415 there). A
      // multipart body is streamed to disk as it comes, undecoded: any encoding would be read as
      // garbage, so none is taken.
      const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
      if (encoding !== 'identity' && req.is('multipart/form-data')) {
        throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', `A multipart body cannot be content-encoded (content-encoding: ${encoding}); send it as it is`);
      }
      return true;
    }
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `Content-Type must be ${types.join(' or ')}${contentType ? `, not ${contentType.split(';')[0]}` : ''}`,
    );
  }
}
