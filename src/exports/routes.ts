import type { Context } from "hono";
import { archiveFileName } from "../archives/format";
import { checkLink, downloadPath } from "../archives/links";
import { getArchive, listArchives } from "../archives/service";
import type { TenantArchive } from "../archives/table";
import { recordThroughOutbox } from "../audit/outbox";
import { auditContextOf } from "../audit/request";
import { actorOf, linkActor } from "../auth/actor";
import { controlDb } from "../db/client";
import type { AppEnv } from "../env";
import { nudgeRelay } from "../events/nudge";
import {
  conflictResponse,
  errorResponses,
  IdempotencyHeader,
  PageQuery,
  pageOf,
  problemResponseOf,
  TenantParams,
} from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { AppError } from "../http/problems";
import { createRouter } from "../http/router";
import { DownloadQuery, ExportParams, ExportSchema, exportView } from "./api";
import { exportLinks, exportObject, exportToDownload, startExport } from "./service";

/** Download links for the request's tenant's `archives`; who asked, and from where, is what the trail records of a presigned one. */
async function issueLinks(c: Context<AppEnv>, archives: TenantArchive[]) {
  const tenantId = c.var.route.tenantId;
  const request = { origin: c.req.url, actor: actorOf(c.var.principal), context: auditContextOf(c) };
  const { links, recorded } = await exportLinks(c.var.db, c.env, request, tenantId, archives);
  if (recorded) c.executionCtx.waitUntil(nudgeRelay(c.env, c.var.db, tenantId));
  return links;
}

const tags = ["Exports"];
const guard = { tenant: true, scope: "tenant:admin" } as const;

/** Mounted at /v1/tenants/:tenantId/exports. */
export const exportRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      tags,
      summary: "Export all of the tenant's data (GDPR portability), as a ZIP made in the background",
      description:
        "Answers 202 with the export; poll it until `completed`, then GET its `download.url` (no API key, valid 10 minutes). The archive format is documented in the README.",
      meta: { ...guard, audit: "export.requested" },
      request: { params: TenantParams, headers: IdempotencyHeader },
      responses: {
        202: { description: "The export, queued", ...json(ExportSchema) },
        ...errorResponses,
        ...conflictResponse,
      },
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const archive = await startExport(c.var.db, c.env, tenantId, c.var.emit.origin);
      c.header("Location", `/v1/tenants/${tenantId}/exports/${archive.id}`);
      return c.json(exportView(archive, null), 202);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "The tenant's exports, newest first",
      meta: guard,
      request: { params: TenantParams, query: PageQuery },
      responses: { 200: { description: "A page of exports", ...json(pageOf(ExportSchema)) }, ...errorResponses },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const result = await listArchives(c.var.db, c.var.route.tenantId, "export", {
        limit,
        after: cursorAfter(cursor, ID_PATTERN),
      });
      const links = await issueLinks(c, result.items);
      const data = result.items.map((archive, i) => exportView(archive, links[i] ?? null));
      return c.json({ ...page(result, (archive) => archive.id), data }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{exportId}",
      tags,
      summary: "An export's state and progress, and a fresh download link once completed",
      meta: guard,
      request: { params: ExportParams },
      responses: { 200: { description: "The export", ...json(ExportSchema) }, ...errorResponses },
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const archive = await getArchive(c.var.db, tenantId, "export", c.req.valid("param").exportId);
      const [link] = await issueLinks(c, [archive]);
      return c.json(exportView(archive, link ?? null), 200);
    },
  );

const download = defineRoute({
  method: "get",
  path: "/tenants/{tenantId}/exports/{exportId}",
  tags,
  summary: "Download an export's ZIP through a signed link (no API key)",
  description:
    "The link an export gives: its path and expiry signed with HMAC-SHA-256. A changed link is 403 link-invalid, an expired one 410 link-expired, a deleted tenant's 404, an export past its retention 410 export-expired. Range requests give 206; HEAD works alike. Each download is recorded in the tenant's audit trail (export.downloaded) before a byte is sent.",
  security: [],
  meta: {},
  request: { params: ExportParams, query: DownloadQuery },
  responses: {
    200: { description: "The ZIP", content: { "application/zip": { schema: { type: "string", format: "binary" } } } },
    206: { description: "The part of the ZIP the Range header asked for" },
    403: problemResponseOf("The link was changed or is not one"),
    404: problemResponseOf("The tenant or the export is gone"),
    410: problemResponseOf("The link or the export has expired"),
    416: problemResponseOf("The range is outside the file"),
    503: problemResponseOf("The download could not be recorded in the tenant's audit trail"),
  },
});

/** Mounted at /downloads: outside /v1, so the link alone is the credential. */
export const downloadRoutes = createRouter().openapi(download, async (c) => {
  const { tenantId, exportId } = c.req.valid("param");
  const { expires, signature } = c.req.valid("query");
  const path = downloadPath(tenantId, exportId);
  const check = await checkLink(c.env, { method: c.req.method, path, expires, signature });
  if (check === "invalid") throw new AppError("link-invalid");
  if (check === "expired") throw new AppError("link-expired");
  const db = controlDb(c.env);
  const { tenant, archive } = await exportToDownload(db, tenantId, exportId);
  const { object, range } = await exportObject(c.env, archive, c.req.header("range"));
  // The data leaves: recorded in the tenant's trail before a byte is sent, once per download
  // (a GET of the whole file or of a part from its start; not a HEAD, not the later parts).
  if (c.req.method === "GET" && (range === null || range.offset === 0)) {
    try {
      await recordThroughOutbox(db, tenantId, {
        action: "export.downloaded",
        actor: linkActor,
        targets: [
          { type: "tenant", id: tenantId },
          { type: "export", id: exportId },
        ],
        context: auditContextOf(c),
        status: range ? 206 : 200,
      });
    } catch (error) {
      await object.body.cancel();
      throw new AppError("audit-unavailable", "The download could not be recorded in the audit trail; retry", {
        cause: error,
      });
    }
    c.executionCtx.waitUntil(nudgeRelay(c.env, db, tenantId));
  }
  const headers: Record<string, string> = {
    "Content-Type": "application/zip",
    "Content-Disposition": `attachment; filename="${archiveFileName(tenant.slug, "export", archive.completedAt ?? archive.createdAt)}"`,
    "Accept-Ranges": "bytes",
    "Content-Length": String(range ? range.length : object.size),
    ETag: object.httpEtag,
  };
  if (range) headers["Content-Range"] = `bytes ${range.offset}-${range.offset + range.length - 1}/${object.size}`;
  const status = range ? 206 : 200;
  if (c.req.method !== "HEAD") return c.body(object.body, status, headers);
  await object.body.cancel();
  return c.body(null, status, headers);
});
