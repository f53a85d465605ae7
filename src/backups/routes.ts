import { getArchive, listArchives } from "../archives/service";
import { conflictResponse, errorResponses, IdempotencyHeader, PageQuery, pageOf, TenantParams } from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { createRouter } from "../http/router";
import { BackupParams, BackupSchema, backupView, ValidationSchema, validationView } from "./api";
import { startBackup, validateBackup } from "./service";

const tags = ["Backups"];
const guard = { tenant: true, scope: "tenant:admin" } as const;

/** Mounted at /v1/tenants/:tenantId/backups. */
export const backupRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      tags,
      summary: "Back the tenant up now (beside the daily backup)",
      description:
        "Answers 202 with the backup; it is made like an export, in the archive format, and kept among the plan's backups_kept.",
      meta: { ...guard, audit: "backup.requested" },
      request: { params: TenantParams, headers: IdempotencyHeader },
      responses: {
        202: { description: "The backup, queued", ...json(BackupSchema) },
        ...errorResponses,
        ...conflictResponse,
      },
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const backup = await startBackup(c.var.db, c.env, tenantId, c.var.emit.origin);
      c.header("Location", `/v1/tenants/${tenantId}/backups/${backup.id}`);
      return c.json(backupView(backup), 202);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "The tenant's backups, newest first",
      meta: guard,
      request: { params: TenantParams, query: PageQuery },
      responses: { 200: { description: "A page of backups", ...json(pageOf(BackupSchema)) }, ...errorResponses },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const result = await listArchives(c.var.db, c.var.route.tenantId, "backup", {
        limit,
        after: cursorAfter(cursor, ID_PATTERN),
      });
      return c.json(page(result, backupView), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{backupId}",
      tags,
      summary: "A backup's state and progress",
      meta: guard,
      request: { params: BackupParams },
      responses: { 200: { description: "The backup", ...json(BackupSchema) }, ...errorResponses },
    }),
    async (c) =>
      c.json(
        backupView(await getArchive(c.var.db, c.var.route.tenantId, "backup", c.req.valid("param").backupId)),
        200,
      ),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{backupId}/validate",
      tags,
      summary: "Read a backup back and check it whole: manifest, every file's rows and SHA-256, the audit chain inside",
      meta: { ...guard, audit: "backup.validated" },
      request: { params: BackupParams },
      responses: {
        200: { description: "ok, or the first problem found", ...json(ValidationSchema) },
        ...errorResponses,
        ...conflictResponse,
      },
    }),
    async (c) =>
      c.json(
        validationView(await validateBackup(c.var.db, c.env, c.var.route.tenantId, c.req.valid("param").backupId)),
        200,
      ),
  );
