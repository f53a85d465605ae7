import { and, desc, eq, gte, isNotNull, type SQL, sql } from "drizzle-orm";
import { recordThroughOutbox } from "../audit/outbox";
import { systemActor } from "../auth/actor";
import type { ControlDb } from "../db/client";
import { outboxEvent } from "../events/outbox";
import { addCell, emptyCell, MINUTE_MS, minuteOf } from "../metrics/cell";
import { quantile } from "../metrics/histogram";
import { tenantFigures } from "../metrics/store";
import { metricMinutes } from "../metrics/table";
import { forgetFlags } from "./cache";
import { tenantFlagOverrides } from "./dataset";
import { type FlagConfig, type Guard, mergedConfig } from "./model";
import { type Flag, type FlagOverride, flagOverrides, flags, type RollBack } from "./table";

// Auto-rollback: every minute, each guarded flag's tenants are checked against the guard over its
// window of their request metrics (the minutes their gates sent). One that trips has its rollout
// rolled back (percentage 0, or everyone in it on the fallback variant) by an override written
// with a flag.rolled_back event and an audit record.
//
// It never flaps: a rollback stays until a person sets the tenant's override again (or removes it,
// or changes the definition), and only minutes after that change count for the next trip, so the
// requests that tripped it cannot trip it again; nothing ever raises a rollout by itself.

/** At most this many tenants per guarded flag and minute: the worst first (most 5xx). */
const TENANTS_PER_RUN = 200;

const ACTOR = systemActor("flag-guard");

/** Whether the config still rolls something out that a rollback would take back. */
function rollingOut(config: FlagConfig): boolean {
  if (!config.enabled) return false;
  if (config.fallback_variant !== null) {
    const fallback = config.fallback_variant;
    return config.variants.some((variant) => variant.name !== fallback && variant.weight > 0);
  }
  return config.rollout === null || config.rollout.percentage > 0;
}

/** The config a rollback leaves: the fallback variant alone, or a rollout of 0. */
function rolledBack(config: FlagConfig): Partial<FlagConfig> {
  if (config.fallback_variant !== null) {
    const fallback = config.fallback_variant;
    return { variants: config.variants.map((variant) => ({ ...variant, weight: variant.name === fallback ? 1 : 0 })) };
  }
  return { rollout: { ...(config.rollout ?? {}), percentage: 0 } };
}

/** What the guard measures over [from, to): the tenant's requests, their 5xx share, their p99; null below min_requests. */
async function measured(db: ControlDb, tenantId: string, guard: Guard, from: number, to: number) {
  const total = emptyCell();
  for (const row of await tenantFigures(db, tenantId, from, to)) if (row.series === "request") addCell(total, row.cell);
  if (total.count < guard.min_requests) return null;
  return {
    requests: total.count,
    error_rate_percent: (total.s5xx / total.count) * 100,
    p99_ms: quantile(total.buckets, 0.99),
  };
}

/** The first of the guard's limits the figures are over, as a rollback records it. */
function trip(guard: Guard, figures: NonNullable<Awaited<ReturnType<typeof measured>>>, at: number): RollBack | null {
  const base = { at, requests: figures.requests, window_minutes: guard.window_minutes };
  if (guard.error_rate_percent !== undefined && figures.error_rate_percent > guard.error_rate_percent) {
    return {
      ...base,
      metric: "error_rate_percent",
      observed: figures.error_rate_percent,
      threshold: guard.error_rate_percent,
    };
  }
  if (guard.p99_ms !== undefined && figures.p99_ms !== null && figures.p99_ms > guard.p99_ms) {
    return { ...base, metric: "p99_ms", observed: figures.p99_ms, threshold: guard.p99_ms };
  }
  return null;
}

/** Rolls one tenant back: its override, the event and the audit record, the override only if unchanged since read. */
async function rollBack(
  db: ControlDb,
  flag: Flag,
  tenantId: string,
  config: FlagConfig,
  override: FlagOverride | undefined,
  why: RollBack,
) {
  const now = why.at;
  const where = and(eq(flagOverrides.tenantId, tenantId), eq(flagOverrides.flagKey, flag.key)) as SQL;
  const next = { ...(override?.config ?? {}), ...rolledBack(config) };
  const version = override?.version ?? null;
  const write =
    version === null
      ? db
          .insert(flagOverrides)
          .values({ tenantId, flagKey: flag.key, config: next, rolledBack: why, createdAt: now, updatedAt: now })
          .onConflictDoNothing()
          .returning({ key: flagOverrides.flagKey })
      : db
          .update(flagOverrides)
          .set({ config: next, rolledBack: why, version: sql`${flagOverrides.version} + 1`, updatedAt: now })
          .where(and(where, eq(flagOverrides.version, version)))
          .returning({ key: flagOverrides.flagKey });
  const origin = { actor: ACTOR, requestId: null };
  const [written] = await db.batch([
    write,
    // Only when the write above changed the row: a person's override meanwhile wins.
    outboxEvent(
      db,
      { origin },
      {
        type: "flag.rolled_back",
        tenantId,
        subject: "flag",
        dataset: tenantFlagOverrides,
        where: and(where, eq(flagOverrides.updatedAt, now), isNotNull(flagOverrides.rolledBack)) as SQL,
      },
    ),
  ]);
  if (written.length === 0) return false;
  await recordThroughOutbox(db, tenantId, {
    action: "flag.rolled_back",
    actor: ACTOR,
    targets: [
      { type: "tenant", id: tenantId },
      { type: "flag", id: flag.key },
    ],
    context: { ip: null, user_agent: null, country: null, request_id: null },
    status: 200,
  });
  forgetFlags(tenantId);
  console.warn(JSON.stringify({ level: "warn", msg: "flag rolled back", flag: flag.key, tenant_id: tenantId, ...why }));
  return true;
}

/** One minute's check of every guarded flag; returns the rollbacks made. */
export async function checkFlagGuards(db: ControlDb, at = Date.now()): Promise<{ flag: string; tenantId: string }[]> {
  const guarded = await db.select().from(flags).where(sql`json_extract(${flags.config}, '$.guard') is not null`);
  const made: { flag: string; tenantId: string }[] = [];
  const to = minuteOf(at);
  for (const flag of guarded) {
    const windowMs = (flag.config.guard?.window_minutes ?? 5) * MINUTE_MS;
    const from = to - windowMs;
    // The tenants with requests in the window, most server errors first (a tripping tenant is likely among them).
    const candidates = await db
      .select({ tenantId: metricMinutes.tenantId })
      .from(metricMinutes)
      .where(and(eq(metricMinutes.series, "request"), gte(metricMinutes.minute, from)))
      .groupBy(metricMinutes.tenantId)
      .orderBy(desc(sql`sum(${metricMinutes.s5xx})`))
      .limit(TENANTS_PER_RUN);
    for (const { tenantId } of candidates) {
      const override = await db.query.flagOverrides.findFirst({
        where: and(eq(flagOverrides.tenantId, tenantId), eq(flagOverrides.flagKey, flag.key)),
      });
      const config = mergedConfig(flag.config, override?.config);
      if (!config.guard || !rollingOut(config)) continue;
      // Hysteresis: only minutes after the last change of what the tenant is served count.
      const since = Math.max(flag.updatedAt, override?.updatedAt ?? 0);
      const figures = await measured(db, tenantId, config.guard, Math.max(from, minuteOf(since) + MINUTE_MS), to);
      const why = figures && trip(config.guard, figures, at);
      if (why && (await rollBack(db, flag, tenantId, config, override, why))) {
        made.push({ flag: flag.key, tenantId });
      }
    }
  }
  return made;
}
