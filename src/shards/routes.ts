import type { ControlDb } from "../db/client";
import { errorResponses, pageOf } from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { notFound } from "../http/problems";
import { createRouter } from "../http/router";
import { SlowQueryQuery, SlowQuerySchema, slowQueryView } from "../metrics/api";
import { listSlowQueries } from "../metrics/slow-queries";
import {
  MigrationResultSchema,
  MigrationRunSchema,
  ShardListSchema,
  ShardParams,
  ShardSchema,
  shardView,
  UpdateShardBody,
} from "./api";
import { probeAllShards } from "./health";
import { migrateAllShards, migrateShardTenants, resultView } from "./migrate";
import { listShards, setShardStatus } from "./service";

const tags = ["Shards"];
const guard = { platformAdmin: true } as const;

async function one(db: ControlDb, shardId: string) {
  const [shard] = await listShards(db, [shardId]);
  if (!shard) throw notFound("Shard");
  return shardView(shard);
}

export const shardRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "The shard registry: status, health, last probe latency, tenants and bytes (platform admin)",
      meta: guard,
      responses: { 200: { description: "Every registered shard", ...json(ShardListSchema) }, ...errorResponses },
    }),
    async (c) => c.json({ data: (await listShards(c.var.db)).map(shardView) }, 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/probe",
      tags,
      summary: "Probe every shard now, as the 5-minute cron does (platform admin)",
      meta: { ...guard, audit: "shard.probed" },
      responses: { 200: { description: "The registry after the probe", ...json(ShardListSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { db } = c.var;
      await probeAllShards(db, c.env);
      return c.json({ data: (await listShards(db)).map(shardView) }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{shardId}",
      tags,
      summary: "One shard (platform admin)",
      meta: guard,
      request: { params: ShardParams },
      responses: { 200: { description: "The shard", ...json(ShardSchema) }, ...errorResponses },
    }),
    async (c) => c.json(await one(c.var.db, c.req.valid("param").shardId), 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/migrate",
      tags,
      summary: "Apply every shard's pending migrations: the step to run after each deploy (platform admin)",
      description:
        "Shards are migrated one after another, each on its own. A shard whose migrations fail has its ACTIVE tenants put in MIGRATION_ERROR; the answer is then 503 shard-migration-failed, whose `shards` member lists every shard's outcome. A later successful run makes those tenants ACTIVE again.",
      meta: { ...guard, audit: "shard.migrated" },
      responses: {
        200: { description: "Every shard is up to date", ...json(MigrationRunSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const results = await migrateAllShards(c.var.db, c.env);
      return c.json({ data: results.map(resultView) }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{shardId}/migrate",
      tags,
      summary: "Apply one shard's pending migrations, D1 or PostgreSQL (platform admin)",
      description:
        "On failure the shard's ACTIVE tenants go to MIGRATION_ERROR and the answer is 503 shard-migration-failed; a later successful run makes them ACTIVE again.",
      meta: { ...guard, audit: "shard.migrated" },
      request: { params: ShardParams },
      responses: {
        200: { description: "Up to date", ...json(MigrationResultSchema) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const result = await migrateShardTenants(c.var.db, c.env, c.req.valid("param").shardId);
      return c.json(resultView(result), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{shardId}/slow-queries",
      tags,
      summary: "The shard's slow calls, newest first: store method, duration, tenant, route (platform admin)",
      description:
        "Calls taking at least SLOW_QUERY_MS (500), as the tenants' gates send them about a minute later; at most 60 per tenant and minute. Kept METRICS_RETENTION_DAYS.",
      meta: guard,
      request: { params: ShardParams, query: SlowQueryQuery },
      responses: { 200: { description: "A page of slow calls", ...json(pageOf(SlowQuerySchema)) }, ...errorResponses },
    }),
    async (c) => {
      const { shardId } = c.req.valid("param");
      const { limit, cursor, tenant_id } = c.req.valid("query");
      await one(c.var.db, shardId);
      const result = await listSlowQueries(c.var.db, shardId, tenant_id, {
        limit,
        after: cursorAfter(cursor, ID_PATTERN),
      });
      return c.json(page(result, slowQueryView), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "patch",
      path: "/{shardId}",
      tags,
      summary: "Change a shard's status: take it out of placement, drain it, make it read-only (platform admin)",
      meta: { ...guard, audit: "shard.updated" },
      request: { params: ShardParams, body: { ...json(UpdateShardBody), required: true } },
      responses: { 200: { description: "The shard after the change", ...json(ShardSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { db } = c.var;
      const { shardId } = c.req.valid("param");
      await setShardStatus(db, shardId, c.req.valid("json").status);
      return c.json(await one(db, shardId), 200);
    },
  );
