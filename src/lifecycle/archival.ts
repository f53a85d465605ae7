import { and, eq, isNotNull, lte, type SQL, sql } from "drizzle-orm";
import { startArchive } from "../archives/service";
import type { ControlDb } from "../db/client";
import type { Emit } from "../events/domain";
import { outboxEvent } from "../events/outbox";
import type { FanOut } from "../jobs/fan-out";
import { settings } from "../settings";
import { tenantRow } from "../tenants/dataset";
import { tenantIdsAfter } from "../tenants/service";
import { tenants } from "../tenants/table";
import { archiveTenantMessage } from "./messages";

// Hibernation: a trial tenant nobody uses is archived to R2 and its shard data dropped, so an
// abandoned trial costs a ZIP, not a shard's rows; POST /v1/tenants/:id/rehydrate brings it back
// (src/restores). Its control rows (the tenant, users, keys) stay.

/**
 * Whether the tenant qualifies at `at`: ACTIVE on a shard, its trial over, and no request of
 * its keys admitted for ARCHIVE_INACTIVE_DAYS (the gate records admissions, to a minute, as
 * `last_active_at`; a tenant never used counts from its creation).
 */
const inactiveTrial = (at: number, inactiveMs: number): SQL =>
  and(
    eq(tenants.status, "ACTIVE"),
    isNotNull(tenants.shardId),
    isNotNull(tenants.trialEndsAt),
    lte(tenants.trialEndsAt, at),
    lte(sql`coalesce(${tenants.lastActiveAt}, ${tenants.createdAt})`, at - inactiveMs),
  ) as SQL;

/**
 * Archives the tenant if it still qualifies: ARCHIVED first (its keys' requests get 409 from
 * then on, so nothing writes while it is read), with its event, then the archive job, which
 * drops the shard data once the archive is verified (src/archives/job.ts). A tenant that no
 * longer qualifies (used meanwhile) is left alone; false then.
 */
export async function hibernate(db: ControlDb, emit: Emit, env: Env, tenantId: string, at: number): Promise<boolean> {
  const now = Date.now();
  const [[archived]] = await db.batch([
    db
      .update(tenants)
      .set({ status: "ARCHIVED", archivedAt: now, updatedAt: now })
      .where(and(eq(tenants.id, tenantId), inactiveTrial(at, settings(env).archiveInactiveMs)))
      .returning(),
    outboxEvent(db, emit, {
      type: "tenant.archived",
      tenantId,
      subject: "tenant",
      dataset: tenantRow,
      where: and(eq(tenants.id, tenantId), sql`changes() > 0`) as SQL,
    }),
  ]);
  if (archived) {
    await emit({ type: "tenant.archived", tenantId });
  } else {
    // A message run again after the status changed but before its archive was asked for (the
    // first run died in between) asks for it now; any other tenant is left alone.
    const tenant = await db.query.tenants.findFirst({ where: eq(tenants.id, tenantId) });
    if (tenant?.status !== "ARCHIVED" || tenant.shardId === null || tenant.archivedAt === null) return false;
  }
  // Once per run: asked again, the archive already made or under way is the answer.
  await startArchive(db, env, tenantId, "archive", emit.origin, `hibernate:${at}`);
  return true;
}

/** The daily archival's tenants: trial tenants inactive long enough (see inactiveTrial). */
export const dueArchivals: FanOut<typeof archiveTenantMessage.body> = {
  name: "archival",
  kind: archiveTenantMessage,
  body: (tenantId, at) => ({ tenantId, at }),
  due: (db, after, limit, at, env) =>
    tenantIdsAfter(db, inactiveTrial(at, settings(env).archiveInactiveMs), after, limit),
};
