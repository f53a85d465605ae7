import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { relayTenant } from "../../src/events/relay";
import { encodeCursor } from "../../src/http/cursor";
import { adminKey, call, createTenant, expectProblem, listAll, tenantKey } from "../helpers";

// What the audit routes answer, and what requests leave in the trails: every mutating request,
// succeeded or refused, once; every authentication or authorisation failure; nothing for reads.

const db = controlDb(env);

let admin: string;
let tenantId: string;
let owner: { id: string; secret: string; prefix: string };
let reader: { id: string; secret: string; prefix: string };
let entryId: string;

const trail = (query = "") => call(`/v1/tenants/${tenantId}/audit${query}`, { key: owner.secret });

beforeAll(async () => {
  admin = await adminKey();
  const tenant = await createTenant(admin, { shard_id: "d1-shared-1" });
  tenantId = tenant.id;
  owner = await tenantKey(admin, tenantId);
  reader = await tenantKey(admin, tenantId, ["entries:read"]);
  const base = `/v1/tenants/${tenantId}/entries`;
  const created = await call(base, { method: "POST", key: owner.secret, body: { data: { a: 1 }, tags: [] } });
  entryId = created.json.id;
  // A refused write (stale If-Match), a forbidden one (no scope), a read (never audited).
  expect(
    (
      await call(`${base}/${entryId}`, {
        method: "PUT",
        key: owner.secret,
        headers: { "If-Match": '"9"' },
        body: { data: {}, tags: [] },
      })
    ).status,
  ).toBe(412);
  expect((await call(base, { method: "POST", key: reader.secret, body: { data: {}, tags: [] } })).status).toBe(403);
  expect((await call(`${base}/${entryId}`, { key: owner.secret })).status).toBe(200);
  // A user added by the platform admin, and a duplicate refused.
  const body = { email: `a-${crypto.randomUUID()}@example.com`, role: "MEMBER" };
  expect((await call(`/v1/tenants/${tenantId}/users`, { method: "POST", key: admin, body })).status).toBe(201);
  expect((await call(`/v1/tenants/${tenantId}/users`, { method: "POST", key: admin, body })).status).toBe(409);
  // The right prefix with a wrong secret: the key's tenant hears of it.
  const wrong = `${owner.secret.slice(0, -4)}${owner.secret.endsWith("AAAA") ? "BBBB" : "AAAA"}`;
  expect((await call(`/v1/tenants/${tenantId}/entries`, { key: wrong })).status).toBe(401);
  await relayTenant(env, db, tenantId);
});

describe("a tenant's audit trail", () => {
  it("holds one record per mutating request, succeeded or refused, and every auth failure, newest first", async () => {
    const { items } = await listAll(`/v1/tenants/${tenantId}/audit`, owner.secret, 3);
    const seqs = items.map((r) => r.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => y - x));
    const summary = items.map((r) => `${r.action} ${r.outcome.status}`).sort();
    expect(summary).toEqual(
      [
        "key.created 201",
        "key.created 201",
        "entry.created 201",
        "entry.replaced 412",
        "auth.denied 403",
        "user.created 201",
        "user.created 409",
        "auth.failed 401",
      ].sort(),
    );
    const write = items.find((r) => r.action === "entry.created");
    expect(write).toMatchObject({
      tenant_id: tenantId,
      actor: { type: "api_key", id: owner.id, key_prefix: owner.prefix },
      targets: [
        { type: "tenant", id: tenantId },
        { type: "entry", id: entryId },
      ],
      context: { request_id: expect.any(String) },
    });
    const denied = items.find((r) => r.action === "auth.denied");
    expect(denied?.actor).toEqual({ type: "api_key", id: reader.id, key_prefix: reader.prefix });
    expect(denied?.targets).toContainEqual({ type: "route", id: "POST /v1/tenants/:tenantId/entries" });
    const failed = items.find((r) => r.action === "auth.failed");
    expect(failed?.actor).toEqual({ type: "api_key", id: null, key_prefix: owner.prefix });
    const added = items.find((r) => r.action === "user.created" && r.outcome.status === 201);
    expect(added?.actor.type).toBe("platform_admin");
    expect(added?.targets.map((t: { type: string }) => t.type)).toEqual(["tenant", "user"]);
    // Nothing a request sent as a secret is ever in the trail.
    expect(JSON.stringify(items)).not.toContain(owner.secret);
  });

  it("filters by action prefix, actor, target, outcome and time", async () => {
    const only = async (query: string) => ((await trail(query)).json.data as { action: string }[]).map((r) => r.action);
    expect((await only("?action=entry.")).sort()).toEqual(["entry.created", "entry.replaced"]);
    expect(await only(`?actor=${reader.id}`)).toEqual(["auth.denied"]);
    expect((await only(`?target=${entryId}`)).sort()).toEqual(["entry.created", "entry.replaced"]);
    expect(await only("?status=412")).toEqual(["entry.replaced"]);
    expect(await only("?to=2000-01-01T00:00:00Z")).toEqual([]);
    expect((await only("?from=2000-01-01T00:00:00Z")).length).toBeGreaterThan(5);
  });

  it("verifies, from the start or from a checkpoint", async () => {
    const res = await call(`/v1/tenants/${tenantId}/audit/verify`, { key: owner.secret });
    expect(res.status, res.text).toBe(200);
    expect(res.json).toMatchObject({ ok: true, start: { from: "genesis" }, pending: 0, broken: null });
    expect(res.json.checked).toBe(8);
    const checkpoint = res.json.checkpoints_checked > 0;
    expect(checkpoint).toBe(true);
  });

  it("exports as NDJSON with its checkpoints, and as CSV", async () => {
    const ndjson = await call(`/v1/tenants/${tenantId}/audit/export`, { key: owner.secret });
    expect(ndjson.status).toBe(200);
    expect(ndjson.headers.get("Content-Type")).toBe("application/x-ndjson");
    expect(ndjson.headers.get("Content-Disposition")).toBe(`attachment; filename="audit-${tenantId}.ndjson"`);
    const lines = ndjson.text
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
    const records = lines.filter((line) => !("checkpoint" in line));
    expect(records.map((r) => r.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(lines.some((line) => "checkpoint" in line)).toBe(true);
    const csv = await call(`/v1/tenants/${tenantId}/audit/export?format=csv`, { key: owner.secret });
    expect(csv.headers.get("Content-Type")).toBe("text/csv; charset=utf-8");
    const rows = csv.text.trim().split("\r\n");
    expect(rows[0]).toBe(
      "id,seq,tenant_id,occurred_at,action,actor_type,actor_id,actor_key_prefix,targets,ip,user_agent,country,request_id,status,prev_hash,hash",
    );
    expect(rows).toHaveLength(9);
    // The targets column is JSON, quoted as RFC 4180 has it.
    expect(rows.find((row) => row.includes("entry.created"))).toContain(`{""type"":""entry"",""id"":""${entryId}""}]"`);
  });

  it("refuses what it cannot answer: bad filters, a cursor of another trail, an unknown checkpoint, a bad format", async () => {
    expectProblem(await trail("?status=abc"), 400, "validation-error");
    expectProblem(await trail("?action=ENTRY*"), 400, "validation-error");
    expectProblem(await trail("?from=yesterday"), 400, "validation-error");
    expectProblem(await trail(`?cursor=${encodeCursor("aud_platform_000000000001")}`), 400, "validation-error");
    expectProblem(await trail("?cursor=%%%"), 400, "validation-error");
    expectProblem(
      await call(`/v1/tenants/${tenantId}/audit/verify?from=abc`, { key: owner.secret }),
      400,
      "validation-error",
    );
    expectProblem(
      await call(`/v1/tenants/${tenantId}/audit/verify?from=99999`, { key: owner.secret }),
      404,
      "not-found",
    );
    expectProblem(
      await call(`/v1/tenants/${tenantId}/audit/export?format=xml`, { key: owner.secret }),
      400,
      "validation-error",
    );
  });

  it("is for the tenant's admins and platform admins only", async () => {
    for (const path of ["", "/verify", "/export"]) {
      expectProblem(
        await call(`/v1/tenants/${tenantId}/audit${path}`, { key: reader.secret }),
        403,
        "insufficient-scope",
      );
      expect((await call(`/v1/tenants/${tenantId}/audit${path}`, { key: admin })).status).toBe(200);
    }
    const other = await createTenant(admin);
    const theirs = await tenantKey(admin, other.id);
    for (const path of ["", "/verify", "/export"]) {
      expectProblem(await call(`/v1/tenants/${tenantId}/audit${path}`, { key: theirs.secret }), 404, "not-found");
    }
  });
  it("records an Idempotency-Key replay as a request of its own, marked replayed", async () => {
    const headers = { "Idempotency-Key": `replay-${crypto.randomUUID()}` };
    const body = { data: { once: true }, tags: [] };
    const path = `/v1/tenants/${tenantId}/entries`;
    const first = await call(path, { method: "POST", key: owner.secret, headers, body });
    const again = await call(path, { method: "POST", key: owner.secret, headers, body });
    expect([first.status, again.status, again.headers.get("Idempotent-Replayed")]).toEqual([201, 201, "true"]);
    await relayTenant(env, db, tenantId);
    const records = (await trail(`?target=${first.json.id}`)).json.data as { context: { replayed?: true } }[];
    expect(records.map((r) => r.context.replayed ?? false)).toEqual([true, false]);
  });
});

describe("the platform's audit trail", () => {
  it("records an unknown key by its prefix alone, for platform admins to read", async () => {
    const lookup = crypto.randomUUID().replaceAll("-", "").slice(0, 16);
    const secret = "S".repeat(43);
    expect((await call("/v1/ping", { key: `etk_${lookup}_${secret}` })).status).toBe(401);
    const { json } = await call("/v1/audit?action=auth.failed", { key: admin });
    const record = (json.data as { actor: unknown; targets: unknown[]; outcome: unknown }[]).find((r) =>
      JSON.stringify(r.actor).includes(lookup),
    );
    expect(record).toMatchObject({
      actor: { type: "api_key", id: null, key_prefix: `etk_${lookup}` },
      targets: [{ type: "route", id: "GET /v1/ping" }],
      outcome: { status: 401 },
    });
    expect(JSON.stringify(json)).not.toContain(secret);
  });

  it("records platform-admin actions that name no tenant, and verifies", async () => {
    const tenant = await createTenant(admin);
    const { json } = await call("/v1/audit?action=tenant.created", { key: admin });
    const record = (json.data as { targets: { type: string; id: string }[]; actor: { type: string } }[]).find((r) =>
      r.targets.some((t) => t.id === tenant.id),
    );
    expect(record?.actor.type).toBe("platform_admin");
    const verified = await call("/v1/audit/verify", { key: admin });
    expect(verified.status).toBe(200);
    expect(verified.json.broken).toBeNull();
  });

  it("is for platform admins only, and validates its filters", async () => {
    expectProblem(await call("/v1/audit", { key: owner.secret }), 403, "forbidden");
    expectProblem(await call("/v1/audit/verify", { key: owner.secret }), 403, "forbidden");
    expectProblem(await call("/v1/audit?status=9999", { key: admin }), 400, "validation-error");
    expectProblem(
      await call(`/v1/audit?cursor=${encodeCursor(`aud_${tenantId.slice(4)}_000000000001`)}`, { key: admin }),
      400,
      "validation-error",
    );
  });
});
