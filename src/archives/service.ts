import { and, eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { newestFirst, type PageRequest } from "../db/keyset";
import type { ChangeOrigin } from "../events/event";
import { degraded } from "../flags/degradation";
import { newId } from "../http/ids";
import { AppError, notFound } from "../http/problems";
import { enqueue } from "../jobs/enqueue";
import { getTenant } from "../tenants/service";
import type { ArchiveKind } from "./format";
import { archiveStepMessage } from "./messages";
import { type TenantArchive, tenantArchives, unfinishedArchive } from "./table";

const ID_PREFIX = { export: "exp", backup: "bak", archive: "arc" } as const;

/** Where an archive's ZIP lives in the bucket: one prefix per kind (an R2 lifecycle rule can expire exports/). */
export const objectKeyOf = (kind: ArchiveKind, tenantId: string, id: string) => `${kind}s/${tenantId}/${id}.zip`;

/** The object one try of writing the archive writes (the claim's token tells tries apart). */
export const tryObjectKey = (archive: { kind: ArchiveKind; tenantId: string; id: string }, token: string) =>
  `${archive.kind}s/${archive.tenantId}/${archive.id}-${token.slice(0, 8)}.zip`;

/**
 * Records a new archive of the tenant and queues its first step (src/archives/job.ts). One
 * archive of a kind is made at a time per tenant: asking for another meanwhile is a 409 naming it.
 * With a `dedupeKey` (a scheduled backup's day), an archive of that key is made once: asking again
 * answers the one already made or under way.
 */
export async function startArchive(
  db: ControlDb,
  env: Env,
  tenantId: string,
  kind: ArchiveKind,
  origin: ChangeOrigin,
  dedupeKey: string | null = null,
): Promise<TenantArchive> {
  // Exports and backups are optional work: shed while the switch is on (a scheduled backup is
  // retried by its job's backoff, then lands in the dead letters to replay).
  if (kind !== "archive" && (await degraded(env, db, "degrade.exports"))) {
    throw new AppError("degraded", `Making ${kind}s is paused (degrade.exports)`, { headers: { "Retry-After": "60" } });
  }
  const tenant = await getTenant(db, tenantId);
  const readable =
    kind === "archive" ? tenant.status === "ARCHIVED" : tenant.status === "ACTIVE" || tenant.status === "SUSPENDED";
  if (!tenant.shardId || !readable) {
    throw new AppError("tenant-not-ready", `A tenant in ${tenant.status} has no data to archive yet`);
  }
  const now = Date.now();
  const id = newId(ID_PREFIX[kind]);
  const [archive] = await db
    .insert(tenantArchives)
    .values({
      id,
      tenantId,
      kind,
      state: "queued",
      objectKey: objectKeyOf(kind, tenantId, id),
      requestedBy: origin.actor,
      requestId: origin.requestId,
      dedupeKey,
      nextStepAt: now,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning();
  if (!archive) {
    // The scheduled archive of this key was made already (or is being made): that one is the answer.
    if (dedupeKey !== null) {
      const made = await db.query.tenantArchives.findFirst({
        where: and(
          eq(tenantArchives.tenantId, tenantId),
          eq(tenantArchives.kind, kind),
          eq(tenantArchives.dedupeKey, dedupeKey),
        ),
      });
      if (made) return made;
    }
    const running = await db.query.tenantArchives.findFirst({
      where: and(eq(tenantArchives.tenantId, tenantId), eq(tenantArchives.kind, kind), unfinishedArchive()),
    });
    throw new AppError("conflict", `An ${kind} of the tenant is already being made`, {
      extensions: running ? { [`${kind}_id`]: running.id } : {},
    });
  }
  await enqueue(env, archiveStepMessage, { archiveId: archive.id, seq: archive.stepSeq });
  return archive;
}

/** One of the tenant's archives of a kind; another tenant's id is 404 like an unknown one. */
export async function getArchive(db: ControlDb, tenantId: string, kind: ArchiveKind, id: string) {
  const archive = await db.query.tenantArchives.findFirst({
    where: and(eq(tenantArchives.tenantId, tenantId), eq(tenantArchives.kind, kind), eq(tenantArchives.id, id)),
  });
  if (!archive) throw notFound(kind === "export" ? "Export" : kind === "backup" ? "Backup" : "Archive");
  return archive;
}

/** The tenant's archives of a kind, newest first. */
export async function listArchives(db: ControlDb, tenantId: string, kind: ArchiveKind, page: PageRequest) {
  const keyset = newestFirst(tenantArchives.id, page);
  const rows = await db
    .select()
    .from(tenantArchives)
    .where(and(eq(tenantArchives.tenantId, tenantId), eq(tenantArchives.kind, kind), keyset.after))
    .orderBy(keyset.order)
    .limit(keyset.limit);
  return keyset.page(rows);
}
