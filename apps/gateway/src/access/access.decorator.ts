import { SetMetadata } from '@nestjs/common';

/**
 * Who may call a route. EVERY controller route declares exactly one of these (on the method, or
 * on the controller class as a default). A route that declares nothing is refused to every key
 * but the admin key (fail closed), a warning names it at start-up, and access.spec fails.
 *
 *   @Access('read', { collection: 'name' })  // the collection is the route param `:name` (or `:c`, ...)
 *   @Access('write', { job: 'id' })          // the collection of the job whose id is in `:id`
 *   @Access('write', { face: 'faceId' })     // the collection of the face id in `:faceId` (`<collection>.f<hex>`)
 *   @Access('read')                          // the scope only: the route touches no collection (verify, detect)
 *   @AdminKeyOnly()                          // only FACEPIPE_API_KEY (keys, creating a collection)
 *   @PublicRoute()                           // no key at all (probes)
 *
 * A key that lacks the collection gets the route's own 404 (COLLECTION_NOT_FOUND, JOB_NOT_FOUND or
 * FACE_NOT_FOUND), exactly as if the resource did not exist; a key that has the collection but
 * lacks the scope gets 403 FORBIDDEN. Add `@RateLimited()` (rate-limit.ts) to synchronous routes.
 */
export const ACCESS_METADATA = 'facepipe:access';

/** What an issued key may do on its collections. Scopes are not nested: a key that reads and writes lists both. */
export const SCOPES = ['read', 'write', 'admin'] as const;
export type Scope = (typeof SCOPES)[number];

/** Where a route's collection comes from: a route param holding a collection name, a job id or a face id. */
export type ResourceKind = 'collection' | 'job' | 'face';
export type ResourceSource = { collection: string } | { job: string } | { face: string };

export type AccessRule =
  | { kind: 'public' }
  | { kind: 'admin-key' }
  | { kind: 'scoped'; scope: Scope; resource?: { kind: ResourceKind; param: string } };

export function Access(scope: Scope, from?: ResourceSource): MethodDecorator & ClassDecorator {
  return SetMetadata<string, AccessRule>(ACCESS_METADATA, { kind: 'scoped', scope, resource: from && resourceOf(from) });
}

export const AdminKeyOnly = (): MethodDecorator & ClassDecorator => SetMetadata<string, AccessRule>(ACCESS_METADATA, { kind: 'admin-key' });

export const PublicRoute = (): MethodDecorator & ClassDecorator => SetMetadata<string, AccessRule>(ACCESS_METADATA, { kind: 'public' });

function resourceOf(from: ResourceSource): { kind: ResourceKind; param: string } {
  if ('collection' in from) return { kind: 'collection', param: from.collection };
  if ('job' in from) return { kind: 'job', param: from.job };
  return { kind: 'face', param: from.face };
}
