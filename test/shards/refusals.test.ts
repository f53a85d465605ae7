import { createExecutionContext, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { OpenAPIHono } from "@hono/zod-openapi";
import { DrizzleQueryError } from "drizzle-orm";
import { requestId } from "hono/request-id";
import { beforeAll, describe, expect, it } from "vitest";
import { authenticate } from "../../src/auth/authenticate";
import { tenantAccess } from "../../src/auth/authorize";
import { entryData } from "../../src/entries/dataset";
import type { Entry } from "../../src/entries/table";
import type { AppEnv } from "../../src/env";
import { controlPlane } from "../../src/http/control-plane";
import { onError } from "../../src/http/on-error";
import { AppError } from "../../src/http/problems";
import { metaMarker } from "../../src/http/route-meta";
import { tenantShard } from "../../src/shards/middleware";
import { connectPg } from "../../src/shards/pg-store";
import { d1Refusal, pgRefusal } from "../../src/shards/refusals";
import { limitedTenant, limitsOf, settled } from "../gate/fixture";
import { adminKey, call, captureConsole, expectProblem } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
const warnings = captureConsole("warn");

/** A row the shard will not take: `data` too big for D1, a NUL that PostgreSQL's jsonb refuses. */
const refusedRow = (tenantId: string, engine: "d1" | "postgres"): Entry => ({
  tenantId,
  id: "ent_01JD8X5Q3M2V7T6R4N9K0B1C2G",
  data: engine === "d1" ? { v: "x".repeat(10_000_000) } : { v: "a\u0000b" },
  tags: [],
  version: 1,
  sizeBytes: 1,
  createdAt: 0,
  updatedAt: 0,
});

/**
 * The Worker's own authentication, tenant and shard middleware in front of a route whose handler
 * writes a value the shard refuses, straight through the tenant's store: what a gap in the API's
 * validation would let through.
 */
function appWritingRefusedValues(engine: "d1" | "postgres") {
  const app = new OpenAPIHono<AppEnv>();
  app.use(requestId());
  app.use("/v1/*", controlPlane());
  app.use("/v1/*", authenticate());
  const meta = { tenant: true, scope: "entries:write", shard: "write" } as const;
  app.post(
    "/v1/tenants/:tenantId/entries",
    metaMarker(meta),
    tenantAccess(),
    tenantShard({ write: true }),
    async (c) => {
      await c.var.shard.importRows(entryData, c.var.route.tenantId, [refusedRow(c.var.route.tenantId, engine)]);
      return c.json({}, 201);
    },
  );
  app.onError(onError);
  return app;
}

describe.each([
  ["d1", "d1-shared-0"],
  ["postgres", "pg-0"],
] as const)("a shard refusing a request's values (%s)", (engine, shardId) => {
  async function setup() {
    const { tenant, key } = await limitedTenant(
      admin,
      { requests_per_minute: 10_000, max_concurrency: 100 },
      "STANDARD",
      { shard_id: shardId },
    );
    return { tenant, key, entries: `/v1/tenants/${tenant.id}/entries` };
  }

  it("answers 422 and never opens the tenant's circuit, however often a client sends such values", async () => {
    const { tenant, key, entries } = await setup();
    const app = appWritingRefusedValues(engine);
    for (let i = 0; i < 25; i++) {
      const ctx = createExecutionContext();
      const res = await app.request(entries, { method: "POST", headers: { Authorization: `Bearer ${key}` } }, env, ctx);
      await waitOnExecutionContext(ctx);
      expect(res.status).toBe(422);
      expect(((await res.json()) as { type: string }).type).toMatch(/\/unprocessable-entity$/);
      await settled(admin, tenant.id);
    }
    expect((await limitsOf(admin, tenant.id)).circuits.shard).toMatchObject({ state: "closed", failures: 0 });
    expect((await call(entries, { key })).status).toBe(200);
    expect(warnings().mock.calls.some(([line]) => String(line).includes("shard refused a value"))).toBe(true);
    // The refused values never reach the log.
    expect(JSON.stringify(warnings().mock.calls)).not.toContain("xxxxxxxx");
  });

  it("never counts a body the API refuses before the shard is asked, however it is malformed", async () => {
    const { tenant, key, entries } = await setup();
    const created = await call(entries, { method: "POST", key, body: { data: { a: 1 } } });
    await settled(admin, tenant.id);
    const before = (await limitsOf(admin, tenant.id)).circuits.shard;
    const bodies: [string, string | undefined, Record<string, string>][] = [
      ["POST", '{"data":{}}', { "Content-Type": "text/plain" }],
      ["POST", "{", {}],
      ["POST", "", {}],
      ["PUT", "<data/>", { "Content-Type": "application/xml" }],
      ["PUT", "not json", {}],
    ];
    for (let round = 0; round < 5; round++) {
      for (const [method, body, headers] of bodies) {
        const path = method === "PUT" ? `${entries}/${created.json.id}` : entries;
        const res = await call(path, { method, key, body, headers });
        expect([400, 415], `${method} ${body}`).toContain(res.status);
      }
    }
    await settled(admin, tenant.id);
    // Counted neither as failures nor as successes: the shard was never asked.
    expect((await limitsOf(admin, tenant.id)).circuits.shard).toEqual(before);
    expect(before?.failures).toBe(0);
    expect((await call(entries, { key })).status).toBe(200);
  });

  it("keeps the tenant's reads working after 25 writes of NUL bytes through the API", async () => {
    const { tenant, key, entries } = await setup();
    for (let i = 0; i < 25; i++) {
      const res = await call(entries, { method: "POST", key, body: '{"data":{"v":"a\\u0000b"}}' });
      expectProblem(res, 400, "validation-error");
    }
    await settled(admin, tenant.id);
    expect((await limitsOf(admin, tenant.id)).circuits.shard?.failures ?? 0).toBe(0);
    expect((await call(entries, { key })).status).toBe(200);
  });
});

describe("telling a refused value from a failing shard", () => {
  it("reads PostgreSQL's SQLSTATE: a data exception refuses, a constraint conflicts, the rest fails", async () => {
    const client = await connectPg(env.SHARD_PG_0.connectionString);
    const failure = async (sql: string, params: unknown[] = []) =>
      client.query(sql, params).then(
        () => {
          throw new Error(`${sql} succeeded`);
        },
        (error: unknown) => error,
      );
    try {
      for (const sql of ["SELECT $1::jsonb", "SELECT 1/0", "SELECT $1::int"]) {
        const params = sql === "SELECT 1/0" ? [] : [sql.includes("jsonb") ? '{"a":"\\u0000"}' : "99999999999"];
        const answer = pgRefusal(await failure(sql, params));
        expect(answer, sql).toBeInstanceOf(AppError);
        expect((answer as AppError).type).toBe("unprocessable-entity");
      }
      await client.query("CREATE TEMP TABLE once (id int PRIMARY KEY)");
      await client.query("INSERT INTO once VALUES (1)");
      expect((pgRefusal(await failure("INSERT INTO once VALUES (1)")) as AppError).type).toBe("conflict");
      const missing = await failure("SELECT * FROM no_such_table");
      expect(pgRefusal(missing)).toBe(missing);
    } finally {
      await client.end();
    }
    const refused = await connectPg(env.SHARD_PG_DOWN.connectionString).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).not.toBeNull();
    expect(pgRefusal(refused)).toBe(refused);
  });

  it("reads D1's result codes: too big refuses, a duplicate key conflicts, a missing table fails", async () => {
    const db = env.SHARD_D1_FRESH;
    await db.exec("CREATE TABLE IF NOT EXISTS refusals (id TEXT PRIMARY KEY, v TEXT)");
    const failure = (sql: string, ...params: unknown[]) =>
      db
        .prepare(sql)
        .bind(...params)
        .run()
        .then(
          () => {
            throw new Error(`${sql} succeeded`);
          },
          (error: unknown) => error,
        );
    const tooBig = d1Refusal(await failure("INSERT INTO refusals VALUES ('a', ?)", "x".repeat(10_000_000)));
    expect((tooBig as AppError).type).toBe("unprocessable-entity");
    await db.prepare("INSERT OR IGNORE INTO refusals VALUES ('b', '')").run();
    expect((d1Refusal(await failure("INSERT INTO refusals VALUES ('b', '')")) as AppError).type).toBe("conflict");
    const missing = await failure("SELECT * FROM no_such_table");
    expect(d1Refusal(missing)).toBe(missing);
    // A message that merely quotes such words (tenant data in drizzle's wrapper) decides nothing.
    const wrapped = new DrizzleQueryError(
      "insert into entries values (?)",
      ["SQLITE_TOOBIG UNIQUE constraint failed"],
      new Error("D1_ERROR: Network connection lost."),
    );
    expect(d1Refusal(wrapped)).toBe(wrapped);
  });
});
