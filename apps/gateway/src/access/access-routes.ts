import { Injectable, type OnApplicationBootstrap, RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { GatewayLogger } from '../common/gateway-logger';
import { ACCESS_METADATA, type AccessRule } from './access.decorator';

/** One controller route and its access declaration (undefined: none, refused to all but the admin key). */
export interface RouteAccess {
  method: string;
  /** Express style: `/v1/jobs/:id`. */
  path: string;
  handler: string;
  rule: AccessRule | undefined;
}

/**
 * Every controller route of the app with its @Access declaration, read the way the AccessGuard
 * reads it (method first, then class). Warns at start-up about each route that declares nothing,
 * so whoever adds one sees it on the first run; access.spec makes it a test failure.
 */
@Injectable()
export class AccessRoutes implements OnApplicationBootstrap {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
    private readonly logger: GatewayLogger,
  ) {}

  list(): RouteAccess[] {
    const routes: RouteAccess[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const { instance, metatype } = wrapper;
      if (!instance || !metatype) continue;
      const prefixes = asArray(Reflect.getMetadata(PATH_METADATA, metatype));
      const proto = Object.getPrototypeOf(instance) as object;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const handler = (proto as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
        const paths = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        if (paths === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod];
        const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_METADATA, [handler, metatype]);
        for (const prefix of prefixes) {
          for (const p of asArray(paths)) routes.push({ method, path: joinPath(prefix, p), handler: `${metatype.name}.${name}`, rule });
        }
      }
    }
    return routes;
  }

  onApplicationBootstrap(): void {
    for (const r of this.list().filter((route) => !route.rule)) {
      this.logger.warn('route has no @Access declaration: only the admin key may call it', { method: r.method, route: r.path, handler: r.handler });
    }
  }
}

function asArray(v: string | string[] | undefined): string[] {
  if (v === undefined) return ['/'];
  return Array.isArray(v) ? v : [v];
}

function joinPath(...parts: string[]): string {
  const joined = parts.map((p) => p.replace(/^\/+|\/+$/g, '')).filter(Boolean).join('/');
  return `/${joined}`;
}
