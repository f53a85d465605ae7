import { eq } from "drizzle-orm";
import { parse as parseRange } from "range-parser";
import { downloadPath, signLink } from "../archives/links";
import { getArchive, startArchive } from "../archives/service";
import type { TenantArchive } from "../archives/table";
import { recordThroughOutbox } from "../audit/outbox";
import type { AuditContext } from "../audit/record";
import type { Actor } from "../auth/actor";
import type { ControlDb } from "../db/client";
import type { ChangeOrigin } from "../events/event";
import { AppError, notFound } from "../http/problems";
import { settings } from "../settings";
import { tenants } from "../tenants/table";
import type { ExportView } from "./api";
import { presignGet, type S3Vars, s3Config } from "./s3-links";

/** Starts an export of the tenant (an archive of kind "export", src/archives/job.ts). */
export const startExport = (db: ControlDb, env: Env, tenantId: string, origin: ChangeOrigin) =>
  startArchive(db, env, tenantId, "export", origin);

/** Whether the export's file can be fetched now (completed, not past its retention). */
const downloadable = (archive: TenantArchive, now: number) =>
  archive.state === "completed" && (archive.expiresAt === null || archive.expiresAt > now);

/**
 * A fresh link to a downloadable export, valid EXPORT_LINK_SECONDS; null for any other. The
 * Worker's own link (./routes.ts serves it), or, with the bucket's S3 access configured, a
 * presigned R2 URL.
 */
export async function exportLink(
  env: Env,
  origin: string,
  archive: TenantArchive,
  now = Date.now(),
): Promise<ExportView["download"]> {
  if (!downloadable(archive, now)) return null;
  const expiresAt = Math.floor((now + settings(env).exportLinkMs) / 1000) * 1000;
  const s3 = s3Config(env as S3Vars);
  const url = s3
    ? await presignGet(s3, archive.objectKey, expiresAt, now)
    : await signLink(env, origin, downloadPath(archive.tenantId, archive.id), expiresAt);
  return { url, expires_at: new Date(expiresAt).toISOString(), served_by: s3 ? "r2" : "worker" };
}

/**
 * The links of `archives` (one tenant's exports), for a request made from `context`. A presigned
 * R2 URL is fetched from R2 with no Worker to record the download, so handing it out is what
 * the tenant's trail records (`export.link_issued`, one record naming every export linked),
 * before the links are given (`recorded`: the relay has a record to move); the Worker's links
 * are recorded when they are used instead.
 */
export async function exportLinks(
  db: ControlDb,
  env: Env,
  request: { origin: string; actor: Actor; context: AuditContext },
  tenantId: string,
  archives: TenantArchive[],
  now = Date.now(),
): Promise<{ links: ExportView["download"][]; recorded: boolean }> {
  const links = await Promise.all(archives.map((archive) => exportLink(env, request.origin, archive, now)));
  const presigned = archives.filter((_, i) => links[i]?.served_by === "r2");
  if (presigned.length > 0) {
    try {
      await recordThroughOutbox(db, tenantId, {
        action: "export.link_issued",
        actor: request.actor,
        targets: [
          { type: "tenant", id: tenantId },
          ...presigned.map((archive) => ({ type: "export", id: archive.id })),
        ],
        context: request.context,
        status: 200,
      });
    } catch (error) {
      throw new AppError("audit-unavailable", "The download link could not be recorded in the audit trail; retry", {
        cause: error,
      });
    }
  }
  return { links, recorded: presigned.length > 0 };
}

/** The export a valid link names: 404 once its tenant is deleted (soft or purged), 410 once its file is gone. */
export async function exportToDownload(db: ControlDb, tenantId: string, exportId: string, now = Date.now()) {
  const tenant = await db.query.tenants.findFirst({ where: eq(tenants.id, tenantId) });
  // A deleted tenant's exports are not served, even through a link issued before.
  if (!tenant || tenant.status === "DELETED") throw notFound("Export");
  const archive = await getArchive(db, tenantId, "export", exportId);
  if (archive.state === "expired" || (archive.state === "completed" && !downloadable(archive, now))) {
    throw new AppError("export-expired");
  }
  if (archive.state !== "completed") throw notFound("Export");
  return { tenant, archive };
}

/** What a GET of an export serves: all of its object, or the one byte range a Range header asked for. */
export type ExportBody = { object: R2ObjectBody; range: { offset: number; length: number } | null };

/**
 * The export's object, or the part of it a single-range Range header asks for (RFC 9110): a
 * malformed header or several ranges get the whole object, a range outside it 416.
 */
export async function exportObject(
  env: Env,
  archive: TenantArchive,
  rangeHeader: string | undefined,
): Promise<ExportBody> {
  let range: ExportBody["range"] = null;
  if (rangeHeader !== undefined) {
    const head = await env.ARCHIVES.head(archive.objectKey);
    if (!head) throw new AppError("export-expired");
    const parsed = parseRange(head.size, rangeHeader);
    const [only, ...more] = parsed.ranges;
    // Only a bytes range none of whose parts fits is 416; other units and malformed headers are
    // ignored, and several ranges get the whole file (no multipart/byteranges here).
    if (parsed.type === "bytes" && parsed.code === 2 && parsed.ranges.length === 0) {
      throw new AppError("range-not-satisfiable", undefined, { headers: { "Content-Range": `bytes */${head.size}` } });
    }
    if (parsed.code === 0 && parsed.type === "bytes" && only && more.length === 0) {
      range = { offset: only.start, length: only.end - only.start + 1 };
    }
  }
  const object = await env.ARCHIVES.get(archive.objectKey, range ? { range } : {});
  if (!object) throw new AppError("export-expired");
  return { object, range };
}
