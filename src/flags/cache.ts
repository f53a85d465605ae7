import { eq } from "drizzle-orm";
import { LRUCache } from "lru-cache";
import type { ControlDb } from "../db/client";
import { settings } from "../settings";
import type { FlagConfig } from "./model";
import { type Flag, flagOverrides, flagRevision, flags } from "./table";

// Flags are read on hot paths (evaluations, degrade switches), so each isolate keeps them, confirmed
// as the routing cache confirms routes: what was confirmed within GATE_MAX_STALENESS_MS (1 s) is
// used as is, anything older is checked again. A change is so seen everywhere within that bound.
// The platform's definitions are checked with one read of their revision counter and reloaded only
// when it moved; a tenant's overrides (a few rows) are read again whole.

type Confirmed<T> = { value: T; confirmedAt: number };

export type FlagSet = {
  /** The platform revision the definitions are at. */
  revision: number;
  definitions: ReadonlyMap<string, Flag>;
};

export type TenantFlags = FlagSet & {
  /** The tenant's overrides' configs, by flag key. */
  overrides: ReadonlyMap<string, Partial<FlagConfig>>;
};

let platform: Confirmed<FlagSet> | undefined;
const tenantOverrides = new LRUCache<string, Confirmed<TenantFlags["overrides"]>>({ max: 1_000 });

const fresh = (entry: Confirmed<unknown> | undefined, env: Env, now: number): boolean =>
  entry !== undefined && now - entry.confirmedAt <= settings(env).gateMaxStalenessMs;

async function loadDefinitions(db: ControlDb, revision: number): Promise<FlagSet> {
  const rows = await db.select().from(flags);
  return { revision, definitions: new Map(rows.map((row) => [row.key, row])) };
}

const revisionOf = (rows: { revision: number }[]) => rows[0]?.revision ?? 0;

/** The platform's flag definitions, as of at most GATE_MAX_STALENESS_MS ago. */
export async function platformFlags(env: Env, db: ControlDb, now = Date.now()): Promise<FlagSet> {
  if (platform && fresh(platform, env, now)) return platform.value;
  const revision = revisionOf(await db.select({ revision: flagRevision.revision }).from(flagRevision));
  const value = platform?.value.revision === revision ? platform.value : await loadDefinitions(db, revision);
  platform = { value, confirmedAt: now };
  return value;
}

/** The definitions and the tenant's overrides, each as of at most GATE_MAX_STALENESS_MS ago (one round trip when both are stale). */
export async function tenantFlags(env: Env, db: ControlDb, tenantId: string, now = Date.now()): Promise<TenantFlags> {
  const cached = tenantOverrides.get(tenantId);
  if (fresh(cached, env, now) && platform && fresh(platform, env, now)) {
    return { ...platform.value, overrides: (cached as Confirmed<TenantFlags["overrides"]>).value };
  }
  const [revisionRows, overrideRows] = await db.batch([
    db.select({ revision: flagRevision.revision }).from(flagRevision),
    db
      .select({ flagKey: flagOverrides.flagKey, config: flagOverrides.config })
      .from(flagOverrides)
      .where(eq(flagOverrides.tenantId, tenantId)),
  ]);
  const revision = revisionOf(revisionRows);
  const definitions = platform?.value.revision === revision ? platform.value : await loadDefinitions(db, revision);
  platform = { value: definitions, confirmedAt: now };
  const overrides = new Map(overrideRows.map((row) => [row.flagKey, row.config]));
  tenantOverrides.set(tenantId, { value: overrides, confirmedAt: now });
  return { ...definitions, overrides };
}

/** Forgets what this isolate holds (the isolate that made a change sees it at once; tests). */
export function forgetFlags(tenantId?: string) {
  if (tenantId === undefined) {
    platform = undefined;
    tenantOverrides.clear();
  } else {
    tenantOverrides.delete(tenantId);
  }
}
