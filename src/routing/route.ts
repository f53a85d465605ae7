import { eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { plans } from "../plans/table";
import { type Shard, shards } from "../shards/table";
import { type LimitOverrides, type TenantStatus, tenants } from "../tenants/table";

/** Everything a request needs to know about a tenant to admit it and reach its data. */
export type TenantRoute = {
  tenantId: string;
  status: TenantStatus;
  tier: string;
  shard: Pick<Shard, "id" | "engine" | "binding" | "status"> | null;
  limits: TenantLimits;
  /** Changes whenever anything above changes; caches compare it to decide to replace an entry. */
  version: string;
};

export type TenantLimits = {
  requestsPerMinute: number;
  maxConcurrency: number;
  /** null = unlimited */
  monthlyRequests: number | null;
  maxEntries: number | null;
  maxStorageBytes: number | null;
};

/**
 * A tenant whose tier has no plan row gets the most restrictive limits rather than an error:
 * 10 requests a minute (the spec's "unknown tier") and small quotas.
 */
export const UNKNOWN_TIER_LIMITS: TenantLimits = {
  requestsPerMinute: 10,
  maxConcurrency: 5,
  monthlyRequests: 10_000,
  maxEntries: 1_000,
  maxStorageBytes: 10 * 1024 * 1024,
};

export function effectiveLimits(plan: TenantLimits | null, overrides: LimitOverrides): TenantLimits {
  const base = plan ?? UNKNOWN_TIER_LIMITS;
  return {
    ...base,
    requestsPerMinute: overrides.requests_per_minute ?? base.requestsPerMinute,
    maxConcurrency: overrides.max_concurrency ?? base.maxConcurrency,
    monthlyRequests: overrides.monthly_requests !== undefined ? overrides.monthly_requests : base.monthlyRequests,
  };
}

/**
 * FNV-1a over the route's JSON plus its length: cheap, equal for equal content (routes are always
 * built by makeRoute, so their keys come in one order). A collision would only delay a cache
 * refresh until the next change or GATE_MAX_STALENESS_MS, never skip a limit: the gate decides
 * from its own copy, not the isolate's.
 */
function fingerprint(value: unknown): string {
  const text = JSON.stringify(value);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return `${(hash >>> 0).toString(36)}.${text.length.toString(36)}`;
}

export function makeRoute(route: Omit<TenantRoute, "version">): TenantRoute {
  return { ...route, version: fingerprint(route) };
}

/** The tenant, its plan and its shard in one query; null when the tenant does not exist. */
export function routeQuery(db: ControlDb, tenantId: string) {
  return db
    .select({
      tenantId: tenants.id,
      status: tenants.status,
      tier: tenants.tier,
      overrides: tenants.limitOverrides,
      plan: {
        requestsPerMinute: plans.rateLimitPerMinute,
        maxConcurrency: plans.maxConcurrency,
        monthlyRequests: plans.monthlyRequests,
        maxEntries: plans.maxEntries,
        maxStorageBytes: plans.maxStorageBytes,
      },
      shard: { id: shards.id, engine: shards.engine, binding: shards.binding, status: shards.status },
    })
    .from(tenants)
    .leftJoin(plans, eq(plans.tier, tenants.tier))
    .leftJoin(shards, eq(shards.id, tenants.shardId))
    .where(eq(tenants.id, tenantId))
    .limit(1);
}

export function toRoute(row: Awaited<ReturnType<typeof routeQuery>>[number] | undefined): TenantRoute | null {
  if (!row) return null;
  return makeRoute({
    tenantId: row.tenantId,
    status: row.status,
    tier: row.tier,
    shard: row.shard,
    limits: effectiveLimits(row.plan, row.overrides),
  });
}

export async function loadRoute(db: ControlDb, tenantId: string): Promise<TenantRoute | null> {
  return toRoute((await routeQuery(db, tenantId))[0]);
}
