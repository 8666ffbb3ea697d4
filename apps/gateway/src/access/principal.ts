import type { Request } from 'express';
import type { Scope } from './access.decorator';

/**
 * Who is calling, resolved once per request by the API-key middleware:
 * - `admin`: the admin key (FACEPIPE_API_KEY), or anyone when no admin key is configured (a
 *   loopback-only development server); everything is allowed.
 * - `key`: an issued key, limited to its collections and scopes.
 */
export type Principal =
  | { kind: 'admin'; via: 'admin-key' | 'no-key-configured' }
  | { kind: 'key'; id: string; collections: ReadonlySet<string>; scopes: ReadonlySet<Scope>; pathRoots: readonly string[] };

const PRINCIPAL = Symbol('facepipe.principal');

type WithPrincipal = Request & { [PRINCIPAL]?: Principal };

export function setPrincipal(req: Request, principal: Principal): void {
  (req as WithPrincipal)[PRINCIPAL] = principal;
}

/** The request's principal; undefined only on the open probe paths, which skip authentication. */
export function principalOf(req: Request): Principal | undefined {
  return (req as WithPrincipal)[PRINCIPAL];
}

/** Whether the principal may see a collection (for routes that list collections). */
export function canSeeCollection(principal: Principal, collection: string): boolean {
  return principal.kind === 'admin' || principal.collections.has(collection);
}
