import { and, eq, isNull, type SQL, sql } from "drizzle-orm";
import { platformRecordInsert } from "../audit/platform";
import type { ControlDb } from "../db/client";
import type { Emit } from "../events/domain";
import type { EventType } from "../events/event";
import { outboxEvent } from "../events/outbox";
import { AppError, notFound } from "../http/problems";
import { enqueue } from "../jobs/enqueue";
import { settings } from "../settings";
import { tenantRow } from "../tenants/dataset";
import { getTenant } from "../tenants/service";
import { type Tenant, tenants } from "../tenants/table";
import { purgeTenantMessage } from "./messages";

// Soft deletion: a DELETED tenant's keys are refused and its routes answer 410 to platform admins,
// but nothing of it is gone until its grace ends (TENANT_DELETION_GRACE_DAYS), when the daily
// purge (./purge.ts) removes it from every dataset. Until the purge begins it can be restored.

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** The 410 a platform admin gets on a DELETED tenant's routes, with when it was deleted and is purged. */
export async function tenantDeleted(db: ControlDb, tenantId: string): Promise<AppError> {
  const tenant = await db.query.tenants.findFirst({ where: eq(tenants.id, tenantId) });
  return new AppError("tenant-deleted", undefined, {
    extensions: { deleted_at: iso(tenant?.deletedAt ?? null), purge_after: iso(tenant?.purgeAfter ?? null) },
  });
}

/** The platform trail's record of a deletion or restoration: the tenant's id and who, no personal data. */
const platformRecord = (db: ControlDb, emit: Emit, action: string, tenantId: string, now: number) =>
  platformRecordInsert(
    db,
    {
      action,
      actor: emit.origin.actor,
      targets: [{ type: "tenant", id: tenantId }],
      context: { ip: null, user_agent: null, country: null, request_id: emit.origin.requestId },
      status: 202,
    },
    sql`changes() > 0`,
    now,
  );

/**
 * The tenant's event, after the platform record of the same batch: both are written only if the
 * update before them changed the tenant (each inserts only when the statement before it changed a row).
 */
const changedEvent = (db: ControlDb, emit: Emit, type: EventType, tenantId: string) =>
  outboxEvent(db, emit, {
    type,
    tenantId,
    subject: "tenant",
    dataset: tenantRow,
    where: and(eq(tenants.id, tenantId), sql`changes() > 0`) as SQL,
  });

/**
 * Soft-deletes the tenant: DELETED, purged after the grace period, or (hard) at once by a purge
 * queued now. The change, its event and a platform-trail record commit together; the gate hears
 * of it at once (and reloads within GATE_MAX_STALENESS_MS should that notice be lost), so the
 * tenant's keys are refused within a second. A DELETED tenant can be hard-deleted still, until
 * its purge has begun.
 */
export async function deleteTenant(
  db: ControlDb,
  emit: Emit,
  env: Env,
  tenantId: string,
  options: { hard: boolean },
): Promise<Tenant> {
  const tenant = await getTenant(db, tenantId);
  const now = Date.now();
  const purgeAfter = options.hard ? now : now + settings(env).deletionGraceMs;
  let deleted: Tenant | undefined;
  if (tenant.status === "DELETED") {
    if (!options.hard) throw new AppError("conflict", "The tenant is already deleted");
    [deleted] = await db
      .update(tenants)
      .set({ purgeAfter, updatedAt: now })
      .where(and(eq(tenants.id, tenantId), eq(tenants.status, "DELETED"), isNull(tenants.purgeStartedAt)))
      .returning();
    if (!deleted) throw new AppError("conflict", "The tenant's purge has already begun");
  } else {
    const [updated] = await db.batch([
      db
        .update(tenants)
        .set({
          status: "DELETED",
          // As the row stands in this statement, not as read before it.
          statusBeforeDelete: sql`${tenants.status}`,
          statusReason: null,
          deletedAt: now,
          purgeAfter,
          updatedAt: now,
        })
        .where(and(eq(tenants.id, tenantId), sql`${tenants.status} <> 'DELETED'`))
        .returning(),
      platformRecord(db, emit, "tenant.deleted", tenantId, now),
      changedEvent(db, emit, "tenant.deleted", tenantId),
    ]);
    deleted = updated[0];
    if (!deleted) throw new AppError("conflict", "The tenant is already deleted");
    await emit({ type: "tenant.deleted", tenantId });
  }
  if (options.hard) await enqueue(env, purgeTenantMessage, { tenantId });
  return deleted;
}

/**
 * Brings a DELETED tenant back as it was (its status before; PROVISION_ERROR for one that was
 * still PROVISIONING), while its purge has not begun.
 */
export async function restoreTenant(db: ControlDb, emit: Emit, tenantId: string): Promise<Tenant> {
  const now = Date.now();
  const [restored] = await db.batch([
    db
      .update(tenants)
      .set({
        // A tenant deleted while it was being provisioned comes back in PROVISION_ERROR, from which
        // POST …/provision places it again; any other comes back as it was.
        status: sql`case coalesce(${tenants.statusBeforeDelete}, 'ACTIVE') when 'PROVISIONING' then 'PROVISION_ERROR' else coalesce(${tenants.statusBeforeDelete}, 'ACTIVE') end`,
        statusBeforeDelete: null,
        deletedAt: null,
        purgeAfter: null,
        updatedAt: now,
      })
      .where(and(eq(tenants.id, tenantId), eq(tenants.status, "DELETED"), isNull(tenants.purgeStartedAt)))
      .returning(),
    platformRecord(db, emit, "tenant.restored", tenantId, now),
    changedEvent(db, emit, "tenant.restored", tenantId),
  ]);
  const tenant = restored[0];
  if (!tenant) {
    const current = await db.query.tenants.findFirst({ where: eq(tenants.id, tenantId) });
    if (!current) throw notFound("Tenant");
    throw new AppError(
      "conflict",
      current.status === "DELETED"
        ? "The tenant's purge has begun; it can no longer be restored"
        : "The tenant is not deleted",
    );
  }
  await emit({ type: "tenant.restored", tenantId });
  return tenant;
}
