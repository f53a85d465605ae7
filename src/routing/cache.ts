import { LRUCache } from "lru-cache";
import { settings } from "../settings";
import type { TenantRoute } from "./route";

/** A cached route and when this isolate last confirmed it with the control database or the gate. */
export type CachedRoute = { route: TenantRoute; confirmedAt: number };

/** A key's tenant never changes, so this map needs no invalidation, only a bound. */
export type KeyOwner = { keyId: string; tenantId: string | null };

const KEY_INDEX_MAX_ENTRIES = 10_000;

let routes: LRUCache<string, CachedRoute> | undefined;
let keyOwners: LRUCache<string, KeyOwner> | undefined;

/**
 * The per-isolate routing cache (the seeds' DataSource cache): at most ROUTING_CACHE_MAX_ENTRIES
 * tenants, each forgotten after ROUTING_CACHE_IDLE_SECONDS without a read. Sized on first use.
 */
export function routeCache(env: Partial<Pick<Env, "ROUTING_CACHE_MAX_ENTRIES" | "ROUTING_CACHE_IDLE_SECONDS">>) {
  if (!routes) {
    const { routingCacheMaxEntries, routingCacheIdleMs } = settings(env);
    routes = new LRUCache<string, CachedRoute>({
      max: routingCacheMaxEntries,
      ttl: routingCacheIdleMs,
      updateAgeOnGet: true,
    });
  }
  return routes;
}

/** API key prefix → owner, so a warm isolate reaches the tenant's gate without the control database. */
export function keyOwnerIndex() {
  keyOwners ??= new LRUCache<string, KeyOwner>({ max: KEY_INDEX_MAX_ENTRIES });
  return keyOwners;
}

/** Stores `route` as confirmed now; returns it. */
export function rememberRoute(cache: LRUCache<string, CachedRoute>, route: TenantRoute, now = Date.now()) {
  cache.set(route.tenantId, { route, confirmedAt: now });
  return route;
}

/** This isolate's route lookups since it started: served by the cache, or needing the control database or the gate's copy. */
const lookups = { hits: 0, misses: 0 };

export function countRouteLookup(hit: boolean) {
  if (hit) lookups.hits++;
  else lookups.misses++;
}

/** The hit rate of this isolate's routing cache (null before any lookup). */
export function routeCacheStats() {
  const total = lookups.hits + lookups.misses;
  return { ...lookups, hit_rate: total === 0 ? null : lookups.hits / total };
}
