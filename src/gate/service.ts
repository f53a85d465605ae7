import { AppError } from "../http/problems";
import type { TenantRoute } from "../routing/route";
import { openStore } from "../shards/connection";
import { gateOf } from "./client";
import type { LimitsView, ResetScope } from "./protocol";

/** The tenant's storage usage as its shard counts it; null when there is no reachable shard. */
async function storageUsage(env: Env, route: TenantRoute) {
  if (!route.shard) return null;
  try {
    const store = await openStore(env, route.shard);
    const row = await store.storageOf(route.tenantId).finally(() => store.close());
    if (!row) return null;
    return {
      entries: row.entryCount,
      max_entries: route.limits.maxEntries,
      stored_bytes: row.storedBytes,
      max_stored_bytes: route.limits.maxStorageBytes,
    };
  } catch {
    return null;
  }
}

/** What the operator view shows: the gate's live state plus the shard's storage counters. */
export async function limitsOf(
  env: Env,
  route: TenantRoute,
): Promise<LimitsView & { storage: Awaited<ReturnType<typeof storageUsage>> }> {
  const [view, storage] = await Promise.all([
    gateOf(env, route.tenantId).view(route.tenantId) as Promise<LimitsView>,
    storageUsage(env, route),
  ]);
  return { ...view, storage };
}

/** Counters a tenant pays for are reset by the platform only. */
const ADMIN_ONLY: readonly ResetScope[] = ["rate", "quota"];

export async function resetLimits(env: Env, route: TenantRoute, scopes: ResetScope[], byPlatformAdmin: boolean) {
  const refused = byPlatformAdmin ? [] : scopes.filter((scope) => ADMIN_ONLY.includes(scope));
  if (refused.length > 0) {
    throw new AppError("forbidden", `Only a platform admin may reset: ${refused.join(", ")}`);
  }
  await gateOf(env, route.tenantId).reset(scopes);
  return limitsOf(env, route);
}
