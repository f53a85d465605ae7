import { and, desc, eq, inArray, lte } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { plans } from "../plans/table";
import { tenants } from "../tenants/table";
import { tenantArchives } from "./table";

/** Archives per statement (D1 binds at most 100 parameters), and pages per pass; the next pass goes on. */
const EXPIRE_PAGE = 90;
const MAX_PAGES = 11;

/**
 * Expires these completed archives: their objects deleted first, then the rows marked, so an
 * archive marked expired never has its file still served, and one whose delete failed is tried
 * again. At most EXPIRE_PAGE at a time.
 */
async function expire(db: ControlDb, env: Env, page: { id: string; objectKey: string }[], now: number) {
  await env.ARCHIVES.delete(page.map((archive) => archive.objectKey));
  await db
    .update(tenantArchives)
    .set({ state: "expired", updatedAt: now })
    .where(
      and(
        inArray(
          tenantArchives.id,
          page.map((archive) => archive.id),
        ),
        eq(tenantArchives.state, "completed"),
      ),
    );
}

/**
 * Deletes the files of completed archives past their expiry (exports, after EXPORT_RETENTION_DAYS)
 * and marks them expired; returns how many. The object goes first: an archive marked expired
 * never has its file still served, and one whose delete failed is tried again next pass.
 */
export async function expireArchives(db: ControlDb, env: Env, now = Date.now()): Promise<number> {
  let expired = 0;
  for (let page = 0; page < MAX_PAGES; page++) {
    const due = await db
      .select({ id: tenantArchives.id, objectKey: tenantArchives.objectKey })
      .from(tenantArchives)
      .where(and(eq(tenantArchives.state, "completed"), lte(tenantArchives.expiresAt, now)))
      .limit(EXPIRE_PAGE);
    if (due.length === 0) break;
    await expire(db, env, due, now);
    expired += due.length;
    if (due.length < EXPIRE_PAGE) break;
  }
  return expired;
}

/** Backups a tenant whose tier has no plan keeps. */
const DEFAULT_BACKUPS_KEPT = 5;

/**
 * Keeps the tenant's newest completed backups, as many as its plan's `backups_kept`, and expires
 * the rest (object deleted first, then marked expired); returns how many went. Run after each
 * backup completes, so the count never stays above the plan's for long.
 */
export async function pruneBackups(db: ControlDb, env: Env, tenantId: string): Promise<number> {
  const [plan] = await db
    .select({ kept: plans.backupsKept })
    .from(tenants)
    .innerJoin(plans, eq(plans.tier, tenants.tier))
    .where(eq(tenants.id, tenantId));
  const kept = plan?.kept ?? DEFAULT_BACKUPS_KEPT;
  const completed = await db
    .select({ id: tenantArchives.id, objectKey: tenantArchives.objectKey })
    .from(tenantArchives)
    .where(
      and(
        eq(tenantArchives.tenantId, tenantId),
        eq(tenantArchives.kind, "backup"),
        eq(tenantArchives.state, "completed"),
      ),
    )
    .orderBy(desc(tenantArchives.id));
  const surplus = completed.slice(kept);
  for (let i = 0; i < surplus.length; i += EXPIRE_PAGE)
    await expire(db, env, surplus.slice(i, i + EXPIRE_PAGE), Date.now());
  return surplus.length;
}
