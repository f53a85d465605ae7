import { errorResponses, pageOf, problemResponseOf, TenantParams } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { createRouter } from "../http/router";
import { openStore } from "../shards/connection";
import { AuditQuery, AuditRecordSchema, auditCursorBefore, ExportQuery, VerifyQuery, VerifySchema } from "./api";
import { checkpointKey } from "./checkpoints";
import type { TrailFilter } from "./engines/trail";
import { platformTrail } from "./platform";
import { exportTrail, noTrail, searchTrail, verifyFrom, verifyTrail } from "./service";

const tags = ["Audit"];
const reader = { tenant: true, scope: "tenant:admin", shard: "read" } as const;
const shardDown = { 503: problemResponseOf("The tenant's shard is unavailable") };

type Query = { action?: string; actor?: string; target?: string; status?: number; from?: string; to?: string };
const filterOf = (q: Query): TrailFilter => ({
  actionPrefix: q.action,
  actorId: q.actor,
  targetId: q.target,
  status: q.status,
  from: q.from === undefined ? undefined : Date.parse(q.from),
  to: q.to === undefined ? undefined : Date.parse(q.to),
});

const exportResponses = {
  200: {
    description: "The trail, streamed: NDJSON (records and checkpoints) or CSV (records)",
    content: {
      "application/x-ndjson": { schema: { type: "string" as const } },
      "text/csv": { schema: { type: "string" as const } },
    },
  },
};

/** Under /v1/tenants/:tenantId/audit: the tenant's own trail, for its admins and platform admins. */
export const tenantAuditRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "Search the tenant's audit trail, newest first",
      meta: reader,
      request: { params: TenantParams, query: AuditQuery },
      responses: {
        200: { description: "A page of records", ...json(pageOf(AuditRecordSchema)) },
        ...errorResponses,
        ...shardDown,
      },
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const query = c.req.valid("query");
      const before = auditCursorBefore(tenantId, query.cursor);
      return c.json(await searchTrail(c.var.shard.trail, tenantId, filterOf(query), before, query.limit), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/verify",
      tags,
      summary: "Recompute the tenant's hash chain and check its signed checkpoints",
      meta: reader,
      request: { params: TenantParams, query: VerifyQuery },
      responses: {
        200: { description: "ok, or the first broken seq and why", ...json(VerifySchema) },
        ...errorResponses,
        ...shardDown,
      },
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const from = verifyFrom(c.req.valid("query").from);
      return c.json(await verifyTrail(c.var.shard.trail, tenantId, checkpointKey(c.env), from), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/export",
      tags,
      summary: "Export the tenant's whole audit trail, streamed",
      description: "NDJSON holds the checkpoints too, so `node scripts/verify-audit.mjs FILE` can check it offline.",
      meta: { tenant: true, scope: "tenant:admin" },
      request: { params: TenantParams, query: ExportQuery },
      responses: { ...exportResponses, ...errorResponses, ...shardDown },
    }),
    async (c) => {
      const { tenantId, shard } = c.var.route;
      if (!shard) throw noTrail();
      const { format } = c.req.valid("query");
      // The stream outlives the handler, so it opens (and closes) its own connection.
      const body = exportTrail(await openStore(c.env, shard), tenantId, format);
      return c.body(body, 200, {
        "Content-Type": format === "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson",
        "Content-Disposition": `attachment; filename="audit-${tenantId}.${format}"`,
      });
    },
  );

/** Under /v1/audit: the platform's trail, for platform admins. */
export const platformAuditRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "Search the platform's audit trail (unknown keys, platform-admin actions), newest first",
      meta: { platformAdmin: true },
      request: { query: AuditQuery },
      responses: { 200: { description: "A page of records", ...json(pageOf(AuditRecordSchema)) }, ...errorResponses },
    }),
    async (c) => {
      const query = c.req.valid("query");
      const before = auditCursorBefore(null, query.cursor);
      return c.json(await searchTrail(platformTrail(c.var.db), null, filterOf(query), before, query.limit), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/verify",
      tags,
      summary: "Recompute the platform trail's hash chain and check its signed checkpoints",
      meta: { platformAdmin: true },
      request: { query: VerifyQuery },
      responses: {
        200: { description: "ok, or the first broken seq and why", ...json(VerifySchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const from = verifyFrom(c.req.valid("query").from);
      return c.json(await verifyTrail(platformTrail(c.var.db), null, checkpointKey(c.env), from), 200);
    },
  );
