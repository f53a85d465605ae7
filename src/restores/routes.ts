import type { z } from "@hono/zod-openapi";
import {
  conflictResponse,
  errorResponses,
  IdempotencyHeader,
  PageQuery,
  pageOf,
  TenantParams,
  unprocessableResponse,
} from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { AppError } from "../http/problems";
import { createRouter } from "../http/router";
import { tenantView } from "../tenants/api";
import {
  CloneBody,
  CloneSchema,
  RehydrateBody,
  RehydrateSchema,
  RestoreFromBody,
  RestoreParams,
  RestoreSchema,
  RestoreToBody,
  restoreView,
} from "./api";
import { getRestore, listRestores, startClone, startRehydrate, startRestore } from "./service";

const tags = ["Restores"];
const admin = { tenant: true, scope: "tenant:admin" } as const;
const accepted = <S extends z.ZodType>(description: string, schema: S) => ({
  202: { description, ...json(schema) },
  ...errorResponses,
  ...conflictResponse,
  ...unprocessableResponse,
});

/** Mounted at /v1/tenants/:tenantId. */
export const restoreRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/{tenantId}/restore-from",
      tags,
      summary: "Restore the tenant's entries in place as of a backup",
      description:
        "Answers 202 with the restore. The backup's entries (with the events written while it was read, when the feed still holds them) are built apart on the tenant's shard, then written over the live entries behind the write fence (data writes answer 503 tenant-moving meanwhile) as ordinary changes with their events; entries it rewrites get a new version. The feed and the audit trail are never rewound. Users and keys are not touched.",
      meta: { ...admin, audit: "tenant.restore_requested" },
      request: { params: TenantParams, headers: IdempotencyHeader, body: { ...json(RestoreFromBody), required: true } },
      responses: accepted("The restore, queued", RestoreSchema),
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const restore = await startRestore(
        c.var.db,
        c.env,
        tenantId,
        { backupId: c.req.valid("json").backup_id },
        c.var.emit.origin,
      );
      c.header("Location", `/v1/tenants/${tenantId}/restores/${restore.id}`);
      return c.json(restoreView(restore), 202);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{tenantId}/restore-to",
      tags,
      summary: "Rebuild the tenant as of a moment: in place, or as a clone (point-in-time restore)",
      description:
        "The newest completed backup before `at`, then the tenant's entry events after it up to `at` replayed in order. Any moment the event feed still reaches back to works (EVENT_RETENTION_DAYS, and a backup before it); otherwise 422. The answer names the backup (`source.archive_id`) and the feed positions; `events_applied` counts the events replayed. into: clone makes a new tenant (platform admin), as POST …/clone does.",
      meta: { ...admin, audit: "tenant.restore_requested" },
      request: { params: TenantParams, headers: IdempotencyHeader, body: { ...json(RestoreToBody), required: true } },
      responses: accepted("The restore (in place) or the clone and its restore, queued", RestoreSchema.or(CloneSchema)),
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const body = c.req.valid("json");
      const at = Date.parse(body.at);
      if (body.into === "in-place") {
        const restore = await startRestore(c.var.db, c.env, tenantId, { at }, c.var.emit.origin);
        c.header("Location", `/v1/tenants/${tenantId}/restores/${restore.id}`);
        return c.json(restoreView(restore), 202);
      }
      if (c.var.principal.kind !== "platform_admin") {
        throw new AppError("forbidden", "A clone is a new tenant: only a platform-admin key may make one");
      }
      const made = await startClone(c.var.db, c.var.emit, c.env, tenantId, { name: body.name, slug: body.slug, at });
      c.header("Location", `/v1/tenants/${tenantId}/restores/${made.restore.id}`);
      return c.json({ restore: restoreView(made.restore), tenant: tenantView(made.tenant) }, 202);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{tenantId}/clone",
      tags,
      summary: "Make a new tenant holding this one's entries, as they are now or as of a backup (platform admin)",
      description:
        "Answers 202 with the clone, in RESTORING (its routes answer 409 tenant-restoring) until its entries are written and checked, then ACTIVE. Same tier and data region, its own id, placed like a new tenant (possibly on the other engine). It gets none of the source's users, keys or their hashes, nor its feed or audit trail: make keys for it with POST /v1/tenants/{id}/keys.",
      meta: { tenant: true, platformAdmin: true, audit: "tenant.clone_requested" },
      request: { params: TenantParams, headers: IdempotencyHeader, body: { ...json(CloneBody), required: true } },
      responses: accepted("The clone and its restore, queued", CloneSchema),
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const body = c.req.valid("json");
      const made = await startClone(c.var.db, c.var.emit, c.env, tenantId, {
        name: body.name,
        slug: body.slug,
        backupId: body.backup_id,
        shardId: body.shard_id,
      });
      c.header("Location", `/v1/tenants/${tenantId}/restores/${made.restore.id}`);
      return c.json({ restore: restoreView(made.restore), tenant: tenantView(made.tenant) }, 202);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{tenantId}/rehydrate",
      tags,
      summary: "Bring an archived tenant back (tenant admin or platform admin)",
      description:
        "Answers 202: the tenant's hibernation archive is imported onto a shard of its pool and data region, every shard dataset is checked against the archive's checksums, and only then is the tenant ACTIVE (its archive is then deleted). `shard_id` is for platform admins.",
      meta: { ...admin, dormantTenant: true, audit: "tenant.rehydrate_requested" },
      request: { params: TenantParams, headers: IdempotencyHeader, body: { ...json(RehydrateBody), required: false } },
      responses: accepted("The tenant and its rehydration", RehydrateSchema),
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const body = c.req.valid("json") ?? {};
      if (body.shard_id !== undefined && c.var.principal.kind !== "platform_admin") {
        throw new AppError("forbidden", "Only a platform-admin key may choose the shard");
      }
      const made = await startRehydrate(c.var.db, c.var.emit, c.env, tenantId, { shardId: body.shard_id });
      if (made.restore) c.header("Location", `/v1/tenants/${tenantId}/restores/${made.restore.id}`);
      return c.json({ restore: made.restore && restoreView(made.restore), tenant: tenantView(made.tenant) }, 202);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{tenantId}/restores",
      tags,
      summary: "The tenant's restores, rehydrations and the clones made from it, newest first",
      meta: { ...admin, dormantTenant: true },
      request: { params: TenantParams, query: PageQuery },
      responses: { 200: { description: "A page of restores", ...json(pageOf(RestoreSchema)) }, ...errorResponses },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const result = await listRestores(c.var.db, c.var.route.tenantId, {
        limit,
        after: cursorAfter(cursor, ID_PATTERN),
      });
      return c.json(page(result, restoreView), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{tenantId}/restores/{restoreId}",
      tags,
      summary: "A restore's state and progress",
      meta: { ...admin, dormantTenant: true },
      request: { params: RestoreParams },
      responses: { 200: { description: "The restore", ...json(RestoreSchema) }, ...errorResponses },
    }),
    async (c) =>
      c.json(restoreView(await getRestore(c.var.db, c.var.route.tenantId, c.req.valid("param").restoreId)), 200),
  );
