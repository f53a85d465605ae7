import { createRoute, type RouteConfig } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { requirePlatformAdmin, requireScope, tenantAccess } from "../auth/authorize";
import type { AppEnv } from "../env";
import { tenantShard } from "../shards/middleware";
import { metaMarker, type RouteMeta } from "./route-meta";

/** The guards a route's metadata asks for, in the order their refusals take precedence. */
function guards(meta: RouteMeta): MiddlewareHandler<AppEnv>[] {
  return [
    ...(meta.tenant
      ? [tenantAccess({ deleted: meta.deletedTenant ?? false, dormant: meta.dormantTenant ?? false })]
      : []),
    ...(meta.platformAdmin ? [requirePlatformAdmin()] : []),
    ...(meta.scope ? [requireScope(meta.scope)] : []),
    ...(meta.shard ? [tenantShard({ write: meta.shard === "write" })] : []),
  ];
}

/**
 * createRoute with the route's metadata: who may call it, whether it touches the tenant's shard,
 * and its audit action. They become the route's middleware (a route brings none of its own) and `x-` fields
 * of its operation in the OpenAPI document, so the document and the behaviour cannot disagree.
 */
export function defineRoute<P extends string, R extends Omit<RouteConfig, "path" | "middleware"> & { path: P }>(
  route: R & { meta: RouteMeta },
) {
  const { meta, ...config } = route;
  return createRoute({
    ...config,
    middleware: [metaMarker(meta), ...guards(meta)] as MiddlewareHandler<AppEnv>[],
    ...(meta.scope ? { "x-required-scope": meta.scope } : {}),
    ...(meta.platformAdmin ? { "x-platform-admin": true } : {}),
    ...(meta.shard ? { "x-shard": meta.shard } : {}),
    ...(meta.audit ? { "x-audit-action": meta.audit } : {}),
    ...(meta.readOnly ? { "x-read-only": true } : {}),
  });
}
