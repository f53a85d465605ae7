import { controlDb } from "../db/client";
import { gateOf } from "../gate/client";
import { controlPlaneUnavailable } from "../http/problems";
import { settings } from "../settings";
import { countRouteLookup, rememberRoute, routeCache } from "./cache";
import { loadRoute, type TenantRoute } from "./route";

/**
 * The route of a tenant for a caller that did not come through the tenant's gate (a platform
 * admin). A cached route confirmed within GATE_MAX_STALENESS_MS is used as is; otherwise the
 * control database is asked, and when it fails the cached route, then the gate's stored copy,
 * answer instead (the seeds' cached fallback). null: no such tenant.
 */
export async function resolveRoute(env: Env, tenantId: string): Promise<TenantRoute | null> {
  const cache = routeCache(env);
  const cached = cache.get(tenantId);
  const fresh = cached !== undefined && Date.now() - cached.confirmedAt <= settings(env).gateMaxStalenessMs;
  countRouteLookup(fresh);
  if (fresh) return cached.route;
  let route: TenantRoute | null;
  try {
    route = await loadRoute(controlDb(env), tenantId);
  } catch (cause) {
    if (cached) return cached.route;
    const copy = await gateOf(env, tenantId)
      .routeCopy(tenantId)
      .catch(() => null);
    if (copy) return copy;
    throw controlPlaneUnavailable("The tenant could not be looked up", cause);
  }
  if (!route) {
    cache.delete(tenantId);
    return null;
  }
  return rememberRoute(cache, route);
}
