import { and, asc, eq, gt, type SQL, sql } from "drizzle-orm";
import type { BatchItem } from "drizzle-orm/batch";
import type { ControlDb } from "../db/client";
import type { Emit } from "../events/domain";
import { outboxEvent, outboxRemoval } from "../events/outbox";
import { AppError, notFound } from "../http/problems";
import { forgetFlags, tenantFlags } from "./cache";
import { tenantFlagOverrides } from "./dataset";
import { type EvaluationContext, evaluate, type Resolution } from "./evaluate";
import { type ConfigFields, configProblem, type FlagConfig, type FlagType, fullConfig, mergedConfig } from "./model";
import { type Flag, type FlagOverride, flagOverrides, flagRevision, flags } from "./table";

/** Raises the platform revision in the change's batch: every isolate reloads the definitions within 1 s. */
const bumpRevision = (db: ControlDb) =>
  db
    .insert(flagRevision)
    .values({ id: 1, revision: 1 })
    .onConflictDoUpdate({ target: flagRevision.id, set: { revision: sql`${flagRevision.revision} + 1` } });

function checked(type: FlagType, config: FlagConfig): FlagConfig {
  const problem = configProblem(type, config);
  if (problem) throw new AppError("unprocessable-entity", problem);
  return config;
}

export type NewFlag = ConfigFields & {
  key: string;
  type: FlagType;
  description?: string | null;
  degrade?: boolean;
  default_value: unknown;
};

export async function createFlag(db: ControlDb, input: NewFlag): Promise<Flag> {
  const { key, type, description, degrade, ...fields } = input;
  const config = checked(type, fullConfig(type, fields));
  const now = Date.now();
  const [inserted] = await db.batch([
    db
      .insert(flags)
      .values({
        key,
        type,
        description: description ?? null,
        degrade: degrade ?? false,
        config,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing()
      .returning(),
    bumpRevision(db),
  ]);
  const flag = inserted[0];
  if (!flag) throw new AppError("conflict", `A flag ${key} exists already`);
  forgetFlags();
  return flag;
}

export async function getFlag(db: ControlDb, key: string): Promise<Flag> {
  const flag = await db.query.flags.findFirst({ where: eq(flags.key, key) });
  if (!flag) throw notFound("Flag");
  return flag;
}

/** The platform's flags in key order, a page after `after`. */
export async function listFlags(db: ControlDb, page: { limit: number; after?: string }) {
  const rows = await db
    .select()
    .from(flags)
    .where(page.after === undefined ? undefined : gt(flags.key, page.after))
    .orderBy(asc(flags.key))
    .limit(page.limit + 1);
  return { items: rows.slice(0, page.limit), more: rows.length > page.limit };
}

export type FlagPatch = ConfigFields & { description?: string | null; degrade?: boolean };

export async function updateFlag(db: ControlDb, key: string, patch: FlagPatch): Promise<Flag> {
  const flag = await getFlag(db, key);
  const { description, degrade, ...fields } = patch;
  const config = checked(flag.type, mergedConfig(flag.config, fields as Partial<FlagConfig>));
  const [[row]] = await db.batch([
    db
      .update(flags)
      .set({
        config,
        ...(description !== undefined ? { description } : {}),
        ...(degrade !== undefined ? { degrade } : {}),
        version: sql`${flags.version} + 1`,
        updatedAt: Date.now(),
      })
      // Compared with the version read: a concurrent change is not silently lost.
      .where(and(eq(flags.key, key), eq(flags.version, flag.version)))
      .returning(),
    bumpRevision(db),
  ]);
  if (!row) throw new AppError("conflict", `The flag ${key} changed meanwhile; read it again`);
  forgetFlags();
  return row;
}

/** Deletes the flag and every tenant's override of it, each tenant told by a flag.override_removed event. */
export async function deleteFlag(db: ControlDb, emit: Emit, key: string): Promise<void> {
  await getFlag(db, key);
  const overriding = await db
    .select({ tenantId: flagOverrides.tenantId })
    .from(flagOverrides)
    .where(eq(flagOverrides.flagKey, key));
  const perTenant = overriding.flatMap(({ tenantId }): BatchItem<"sqlite">[] => [
    db.delete(flagOverrides).where(and(eq(flagOverrides.tenantId, tenantId), eq(flagOverrides.flagKey, key))),
    // Right after its tenant's delete: it reads that statement's changes().
    outboxRemoval(db, emit, { type: "flag.override_removed", tenantId, subject: "flag", id: key }),
  ]);
  await db.batch([db.delete(flags).where(eq(flags.key, key)), ...perTenant, bumpRevision(db)]);
  forgetFlags();
}

const overrideWhere = (tenantId: string, key: string) =>
  and(eq(flagOverrides.tenantId, tenantId), eq(flagOverrides.flagKey, key)) as SQL;

/** A flag as one tenant sees it: the definition, the tenant's override, and the two merged. */
export type TenantFlag = { flag: Flag; override: FlagOverride | null; effective: FlagConfig };

export async function getTenantFlag(db: ControlDb, tenantId: string, key: string): Promise<TenantFlag> {
  const flag = await getFlag(db, key);
  const override = (await db.query.flagOverrides.findFirst({ where: overrideWhere(tenantId, key) })) ?? null;
  return { flag, override, effective: mergedConfig(flag.config, override?.config) };
}

/** Every platform flag as the tenant sees it, in key order. */
export async function listTenantFlags(db: ControlDb, tenantId: string): Promise<TenantFlag[]> {
  const [all, overrides] = await db.batch([
    db.select().from(flags).orderBy(asc(flags.key)),
    db.select().from(flagOverrides).where(eq(flagOverrides.tenantId, tenantId)),
  ]);
  const byKey = new Map(overrides.map((override) => [override.flagKey, override]));
  return all.map((flag) => {
    const override = byKey.get(flag.key) ?? null;
    return { flag, override, effective: mergedConfig(flag.config, override?.config) };
  });
}

/** Sets (replaces) the tenant's override of a platform flag, with a flag.overridden event. */
export async function setOverride(
  db: ControlDb,
  emit: Emit,
  tenantId: string,
  key: string,
  fields: ConfigFields,
): Promise<TenantFlag> {
  const flag = await getFlag(db, key);
  const config = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<FlagConfig>;
  const effective = checked(flag.type, mergedConfig(flag.config, config));
  const now = Date.now();
  const [[override]] = await db.batch([
    db
      .insert(flagOverrides)
      .values({ tenantId, flagKey: key, config, createdAt: now, updatedAt: now })
      .onConflictDoUpdate({
        target: [flagOverrides.tenantId, flagOverrides.flagKey],
        // A person's override re-arms a guard that rolled the tenant back.
        set: { config, rolledBack: null, version: sql`${flagOverrides.version} + 1`, updatedAt: now },
      })
      .returning(),
    outboxEvent(db, emit, {
      type: "flag.overridden",
      tenantId,
      subject: "flag",
      dataset: tenantFlagOverrides,
      where: overrideWhere(tenantId, key),
    }),
  ]);
  forgetFlags(tenantId);
  return { flag, override: override ?? null, effective };
}

export async function removeOverride(db: ControlDb, emit: Emit, tenantId: string, key: string): Promise<void> {
  await getFlag(db, key);
  const [removed] = await db.batch([
    db.delete(flagOverrides).where(overrideWhere(tenantId, key)).returning({ key: flagOverrides.flagKey }),
    outboxRemoval(db, emit, { type: "flag.override_removed", tenantId, subject: "flag", id: key }),
  ]);
  if (removed.length === 0) throw notFound("Override");
  forgetFlags(tenantId);
}

/** What the platform adds to every context: the caller cannot pose as another tenant or tier. */
export type TenantFacts = { tenantId: string; tier: string };

/** A flag resolved for the tenant and a context; a missing flag is FLAG_NOT_FOUND with the caller's default, never an error. */
export type Evaluation = Resolution & { key: string };

export async function evaluateFlags(
  env: Env,
  db: ControlDb,
  tenant: TenantFacts,
  keys: readonly string[] | "all",
  context: EvaluationContext,
  defaults: Record<string, unknown> = {},
): Promise<Evaluation[]> {
  const set = await tenantFlags(env, db, tenant.tenantId);
  const full: EvaluationContext = { ...context, tenantId: tenant.tenantId, tier: tenant.tier };
  const wanted = keys === "all" ? [...set.definitions.keys()].sort() : keys;
  return wanted.map((key): Evaluation => {
    const flag = set.definitions.get(key);
    if (!flag) {
      return {
        key,
        value: defaults[key] ?? null,
        reason: "ERROR",
        errorCode: "FLAG_NOT_FOUND",
        errorMessage: `No flag ${key}`,
        flagMetadata: {},
      };
    }
    const config = mergedConfig(flag.config, set.overrides.get(key));
    return { key, ...evaluate(key, config, full) };
  });
}
