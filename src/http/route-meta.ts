import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Scope } from "../keys/scopes";

/** What an audit event of a request is called: `<subject>.<verb in the past>`, e.g. entry.created. */
export type AuditAction = `${string}.${string}`;

/**
 * What a route declares about itself, once (src/http/define-route.ts turns it into the route's
 * guards and into `x-` fields of its OpenAPI operation); middleware that runs before routing
 * reads it with `routeMetaOf`.
 */
export type RouteMeta = {
  /** The route names a tenant (`:tenantId`): a tenant key of any other tenant gets 404. */
  tenant?: boolean;
  /** Only platform-admin keys may call it. */
  platformAdmin?: boolean;
  /** The scope a tenant key needs (platform-admin keys hold every scope). */
  scope?: Scope;
  /** Its handler reads or writes the tenant's shard; a write waits out a tenant move's fence. */
  shard?: "read" | "write";
  /** The audit action of a route that changes something. */
  audit?: AuditAction;
  /**
   * A POST that changes nothing and so has no audit action: an evaluation, which takes a context
   * in its body (OFREP prescribes POST).
   */
  readOnly?: true;
  /**
   * It serves a soft-deleted (DELETED) tenant too (restore, purge). Any other tenant route answers
   * a DELETED tenant's platform admin 410 tenant-deleted with the purge date (its keys are refused).
   */
  deletedTenant?: boolean;
  /**
   * It serves an ARCHIVED or RESTORING tenant too (rehydrate, its restores). Any other tenant
   * route answers 409 tenant-archived (with how to rehydrate) or tenant-restoring.
   */
  dormantTenant?: boolean;
  /**
   * Authenticated by a single-use ticket in its query instead of a key (a WebSocket a browser
   * opens): authentication leaves it to its handler, which spends the ticket for its tenant.
   */
  ticket?: true;
};

const META = Symbol("route meta");
type Marked = MiddlewareHandler & { [META]: RouteMeta };

/** A pass-through middleware that carries the route's metadata where `routeMetaOf` finds it. */
export function metaMarker(meta: RouteMeta): MiddlewareHandler {
  const marker: MiddlewareHandler = (_, next) => next();
  return Object.assign(marker, { [META]: meta });
}

/**
 * The metadata of the route this request will reach, or undefined when it reaches none (404).
 * Hono matches every handler of a request before the first runs, so even the global middleware
 * ahead of the route (authentication) can ask.
 */
export function routeMetaOf(c: Context): RouteMeta | undefined {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const handler = routes[i]?.handler as Partial<Marked> | undefined;
    const meta = handler?.[META];
    if (meta) return meta;
  }
  return undefined;
}
