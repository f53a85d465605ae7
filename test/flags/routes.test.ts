import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminKey, call, createTenant, expectProblem, settled, tenantKey } from "../helpers";

let counter = 0;
const flagKey = (base = "flag") => `${base}-${Date.now().toString(36)}-${counter++}`;

async function setup() {
  const admin = await adminKey();
  const tenant = await createTenant(admin);
  const key = await tenantKey(admin, tenant.id);
  return { admin, tenant, key: key.secret };
}

async function defineFlag(admin: string, body: Record<string, unknown>) {
  const res = await call("/v1/flags", {
    method: "POST",
    key: admin,
    body: { type: "boolean", default_value: false, ...body },
  });
  if (res.status !== 201) throw new Error(`flag creation failed: ${res.status} ${res.text}`);
  return res.json as { key: string; version: number; [field: string]: unknown };
}

const evaluate = (tenantId: string, key: string, body: Record<string, unknown>) =>
  call(`/v1/tenants/${tenantId}/flags/evaluate`, { method: "POST", key, body });

async function eventsOf(tenantId: string, admin: string) {
  await settled(tenantId);
  const res = await call(`/v1/tenants/${tenantId}/events?limit=100`, { key: admin });
  return res.json.data as { type: string; subject: { type: string; id: string }; data: Record<string, unknown> }[];
}

describe("platform flag definitions", () => {
  it("are created, read, listed in key order, changed and deleted by platform admins, each change in the platform trail", async () => {
    const { admin } = await setup();
    const base = flagKey("crud");
    const created = await defineFlag(admin, { key: `${base}-b`, description: "B", rollout: { percentage: 10 } });
    expect(created).toMatchObject({ type: "boolean", enabled: true, default_value: false, on_value: true, version: 1 });
    await defineFlag(admin, { key: `${base}-a`, type: "string", default_value: "x" });
    const page = await call(`/v1/flags?limit=1&cursor=${base}`, { key: admin });
    expect(page.json.data.map((f: { key: string }) => f.key)).toEqual([`${base}-a`]);
    const next = await call(`/v1/flags?limit=1&cursor=${page.json.next_cursor}`, { key: admin });
    expect(next.json.data[0].key).toBe(`${base}-b`);

    const patched = await call(`/v1/flags/${base}-b`, {
      method: "PATCH",
      key: admin,
      body: { rollout: { percentage: 30 } },
    });
    expect(patched.status).toBe(200);
    expect(patched.json).toMatchObject({ rollout: { percentage: 30 }, description: "B", version: 2 });
    expect((await call(`/v1/flags/${base}-b`, { key: admin })).json.version).toBe(2);
    expect((await call(`/v1/flags/${base}-b`, { method: "DELETE", key: admin })).status).toBe(204);
    expectProblem(await call(`/v1/flags/${base}-b`, { key: admin }), 404, "not-found");

    const trail = await call(`/v1/audit?action=flag.&limit=100`, { key: admin });
    const actions = trail.json.data.map((record: { action: string }) => record.action);
    expect(actions).toEqual(expect.arrayContaining(["flag.created", "flag.updated", "flag.deleted"]));
  });

  it("refuse a taken key (409), values of another type or unknown variants (422), bad fields (400), tenant keys (403)", async () => {
    const { admin, key } = await setup();
    const taken = flagKey("taken");
    await defineFlag(admin, { key: taken });
    expectProblem(
      await call("/v1/flags", {
        method: "POST",
        key: admin,
        body: { key: taken, type: "boolean", default_value: false },
      }),
      409,
      "conflict",
    );
    expectProblem(
      await call("/v1/flags", {
        method: "POST",
        key: admin,
        body: { key: flagKey(), type: "number", default_value: "3" },
      }),
      422,
      "unprocessable-entity",
    );
    expectProblem(
      await call("/v1/flags", {
        method: "POST",
        key: admin,
        body: {
          key: flagKey(),
          type: "string",
          default_value: "a",
          variants: [{ name: "v", weight: 1, value: "b" }],
          rules: [{ conditions: [{ attribute: "x", operator: "IN", values: ["1"] }], variant: "w" }],
        },
      }),
      422,
      "unprocessable-entity",
    );
    for (const body of [
      { key: "Bad Key", type: "boolean", default_value: false },
      { key: flagKey(), type: "yaml", default_value: false },
      { key: flagKey(), type: "boolean" },
      { key: flagKey(), type: "boolean", default_value: false, rollout: { percentage: 101 } },
      {
        key: flagKey(),
        type: "boolean",
        default_value: false,
        rules: [{ conditions: [{ attribute: "v", operator: "SEMVER_GT", value: "nope" }], value: true }],
      },
      { key: flagKey(), type: "boolean", default_value: false, surprise: 1 },
    ]) {
      expectProblem(await call("/v1/flags", { method: "POST", key: admin, body }), 400, "validation-error");
    }
    expectProblem(
      await call("/v1/flags", { method: "POST", key, body: { key: flagKey(), type: "boolean", default_value: false } }),
      403,
      "forbidden",
    );
    expectProblem(await call("/v1/flags", { key }), 403, "forbidden");
    expectProblem(await call(`/v1/flags/${taken}`, { method: "PATCH", key: admin, body: {} }), 400, "validation-error");
  });
});

describe("tenant overrides", () => {
  it("replace the platform's fields for that tenant alone, with flag.overridden and flag.override_removed events", async () => {
    const { admin, tenant, key } = await setup();
    const other = await setup();
    const name = flagKey("kill");
    await defineFlag(admin, { key: name });
    expect((await evaluate(tenant.id, key, { flag: name })).json).toMatchObject({ value: true, reason: "STATIC" });

    const put = await call(`/v1/tenants/${tenant.id}/flags/${name}`, { method: "PUT", key, body: { enabled: false } });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      key: name,
      override: { enabled: false },
      override_version: 1,
      effective: { enabled: false },
    });
    expect((await evaluate(tenant.id, key, { flag: name })).json).toMatchObject({ value: false, reason: "DISABLED" });
    // The other tenant still sees the platform's definition.
    expect((await evaluate(other.tenant.id, other.key, { flag: name })).json).toMatchObject({ value: true });

    const listed = await call(`/v1/tenants/${tenant.id}/flags`, { key });
    expect(listed.json.data.find((f: { key: string }) => f.key === name)).toMatchObject({
      override: { enabled: false },
    });
    expect((await call(`/v1/tenants/${tenant.id}/flags/${name}`, { method: "DELETE", key })).status).toBe(204);
    expect((await evaluate(tenant.id, key, { flag: name })).json).toMatchObject({ value: true, reason: "STATIC" });

    const events = (await eventsOf(tenant.id, admin)).filter((event) => event.type.startsWith("flag."));
    expect(events.map((event) => event.type)).toEqual(["flag.overridden", "flag.override_removed"]);
    expect(events[0]?.subject).toEqual({ type: "flag", id: name });
    expect(events[0]?.data).toMatchObject({ flag_key: name, config: { enabled: false } });
    expect((await eventsOf(other.tenant.id, admin)).filter((event) => event.type.startsWith("flag."))).toEqual([]);
  });

  it("answer 404 for another tenant, an unknown flag or no override; 403 without tenant:admin; 400 and 422 for bad ones", async () => {
    const { admin, tenant, key } = await setup();
    const other = await setup();
    const name = flagKey("guarded");
    await defineFlag(admin, { key: name });
    expectProblem(
      await call(`/v1/tenants/${other.tenant.id}/flags/${name}`, { method: "PUT", key, body: { enabled: false } }),
      404,
      "not-found",
    );
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/flags/${flagKey("none")}`, { method: "PUT", key, body: { enabled: false } }),
      404,
      "not-found",
    );
    expectProblem(await call(`/v1/tenants/${tenant.id}/flags/${name}`, { method: "DELETE", key }), 404, "not-found");
    const reader = await tenantKey(admin, tenant.id, ["entries:read"]);
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/flags/${name}`, {
        method: "PUT",
        key: reader.secret,
        body: { enabled: false },
      }),
      403,
      "insufficient-scope",
    );
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/flags/${name}`, { method: "PUT", key, body: {} }),
      400,
      "validation-error",
    );
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/flags/${name}`, { method: "PUT", key, body: { on_value: "yes" } }),
      422,
      "unprocessable-entity",
    );
  });

  it("are deleted with their flag, each tenant told", async () => {
    const { admin, tenant, key } = await setup();
    const name = flagKey("gone");
    await defineFlag(admin, { key: name });
    await call(`/v1/tenants/${tenant.id}/flags/${name}`, { method: "PUT", key, body: { rollout: { percentage: 5 } } });
    expect((await call(`/v1/flags/${name}`, { method: "DELETE", key: admin })).status).toBe(204);
    const rows = await env.CONTROL_DB.prepare("SELECT count(*) AS n FROM flag_overrides WHERE flag_key = ?")
      .bind(name)
      .first<{ n: number }>();
    expect(rows?.n).toBe(0);
    const types = (await eventsOf(tenant.id, admin))
      .map((event) => event.type)
      .filter((type) => type.startsWith("flag."));
    expect(types).toEqual(["flag.overridden", "flag.override_removed"]);
  });
});

describe("evaluation", () => {
  it("answers a missing flag with the caller's default and FLAG_NOT_FOUND, never a 5xx", async () => {
    const { tenant, key } = await setup();
    const res = await evaluate(tenant.id, key, { flag: flagKey("missing"), default_value: "fallback" });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ value: "fallback", reason: "ERROR", errorCode: "FLAG_NOT_FOUND" });
  });

  it("targets on the tenant's tier, which the caller cannot pose as, and evaluates in bulk", async () => {
    const { admin, tenant, key } = await setup();
    const name = flagKey("tiered");
    await defineFlag(admin, {
      key: name,
      rules: [{ conditions: [{ attribute: "tier", operator: "IN", values: ["ENTERPRISE"] }], value: true }],
    });
    const posing = await evaluate(tenant.id, key, { flag: name, context: { tier: "ENTERPRISE" } });
    expect(posing.json).toMatchObject({ value: false, reason: "DEFAULT" });
    const split = flagKey("split");
    await defineFlag(admin, {
      key: split,
      type: "string",
      default_value: "control",
      rollout: { percentage: 100 },
      variants: [
        { name: "a", weight: 1, value: "a" },
        { name: "b", weight: 1, value: "b" },
      ],
      metadata: { owner: "growth" },
    });
    const bulk = await call(`/v1/tenants/${tenant.id}/flags/evaluate/bulk`, {
      method: "POST",
      key,
      body: { flags: [name, split, flagKey("nope")], context: { targetingKey: "user-1" } },
    });
    expect(bulk.status).toBe(200);
    expect(bulk.json.flags.map((f: { reason: string }) => f.reason)).toEqual(["DEFAULT", "SPLIT", "ERROR"]);
    expect(bulk.json.flags[1]).toMatchObject({ key: split, flagMetadata: { owner: "growth" } });
    expect(bulk.json.flags[1].value).toBe(bulk.json.flags[1].variant);
    const all = await call(`/v1/tenants/${tenant.id}/flags/evaluate/bulk`, { method: "POST", key, body: {} });
    expect(all.json.flags.map((f: { key: string }) => f.key)).toEqual(expect.arrayContaining([name, split]));
  });

  it("sees a change another isolate made within GATE_MAX_STALENESS_MS (1 s), not before", async () => {
    const { admin, tenant, key } = await setup();
    const name = flagKey("stale");
    await defineFlag(admin, { key: name });
    expect((await evaluate(tenant.id, key, { flag: name })).json.value).toBe(true);
    // As another isolate's PATCH would: the row and the revision, in one batch, not this isolate's cache.
    await env.CONTROL_DB.batch([
      env.CONTROL_DB.prepare(
        "UPDATE flags SET config = json_set(config, '$.enabled', json('false')) WHERE key = ?",
      ).bind(name),
      env.CONTROL_DB.prepare("UPDATE flag_revision SET revision = revision + 1"),
    ]);
    const changedAt = Date.now();
    const first = await evaluate(tenant.id, key, { flag: name });
    if (Date.now() - changedAt < 900) expect(first.json.value).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await evaluate(tenant.id, key, { flag: name })).json).toMatchObject({ value: false, reason: "DISABLED" });
  });

  it("answers 404 for another tenant, 403 without entries:read, 400 for a bad body", async () => {
    const { admin, tenant, key } = await setup();
    const other = await setup();
    expectProblem(await evaluate(other.tenant.id, key, { flag: "x" }), 404, "not-found");
    const writer = await tenantKey(admin, tenant.id, ["entries:write"]);
    expectProblem(await evaluate(tenant.id, writer.secret, { flag: "x" }), 403, "insufficient-scope");
    expectProblem(await evaluate(tenant.id, key, { flag: "Not A Key" }), 400, "validation-error");
    expectProblem(
      await evaluate(tenant.id, key, { flag: "x", context: { targetingKey: { id: 1 } } }),
      400,
      "validation-error",
    );
    expectProblem(await evaluate(tenant.id, key, { context: {} }), 400, "validation-error");
  });
});

describe("degrade switches", () => {
  it("are listed with their state, and degrade.exports pauses exports until it is off", async () => {
    const { admin, tenant, key } = await setup();
    const before = await call("/v1/admin/degradation", { key: admin });
    expect(before.status).toBe(200);
    expect(before.json.data.map((s: { key: string }) => s.key)).toEqual([
      "degrade.exports",
      "degrade.tenant-metrics",
      "degrade.realtime",
    ]);
    const existing = await call("/v1/flags/degrade.exports", { key: admin });
    if (existing.status === 404) {
      await defineFlag(admin, { key: "degrade.exports", degrade: true, enabled: false });
    }
    await call("/v1/flags/degrade.exports", { method: "PATCH", key: admin, body: { enabled: true } });
    const on = await call("/v1/admin/degradation", { key: admin });
    expect(on.json.data[0]).toMatchObject({ key: "degrade.exports", defined: true, on: true });
    const refused = await call(`/v1/tenants/${tenant.id}/exports`, { method: "POST", key });
    expectProblem(refused, 503, "degraded");
    expect(refused.headers.get("Retry-After")).toBe("60");
    await call("/v1/flags/degrade.exports", { method: "PATCH", key: admin, body: { enabled: false } });
    expect((await call(`/v1/tenants/${tenant.id}/exports`, { method: "POST", key })).status).toBe(202);
    expectProblem(await call("/v1/admin/degradation", { key }), 403, "forbidden");
  });

  it("is not a switch unless marked degrade", async () => {
    const { admin } = await setup();
    if ((await call("/v1/flags/degrade.realtime", { key: admin })).status === 404) {
      await defineFlag(admin, { key: "degrade.realtime" });
    }
    const listed = await call("/v1/admin/degradation", { key: admin });
    expect(listed.json.data.find((s: { key: string }) => s.key === "degrade.realtime")).toMatchObject({
      defined: true,
      on: false,
    });
  });
});

describe("OFREP", () => {
  const ofrep = (path: string, key: string, body?: unknown, headers?: Record<string, string>) =>
    call(`/ofrep/v1${path}`, { method: "POST", key, body: body ?? {}, headers });

  it("evaluates one flag in OFREP's shapes: 200, 404 FLAG_NOT_FOUND, 400 TARGETING_KEY_MISSING, PARSE_ERROR, INVALID_CONTEXT", async () => {
    const { admin, key } = await setup();
    const name = flagKey("ofrep");
    await defineFlag(admin, { key: name, rollout: { percentage: 50 }, metadata: { team: "core" } });
    const ok = await ofrep(`/evaluate/flags/${name}`, key, { context: { targetingKey: "user-1" } });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({
      key: name,
      reason: expect.stringMatching(/^(SPLIT|DEFAULT)$/),
      metadata: { team: "core" },
    });
    expect(typeof ok.json.value).toBe("boolean");
    const missing = await ofrep(`/evaluate/flags/${flagKey("none")}`, key, { context: {} });
    expect(missing.status).toBe(404);
    expect(missing.json.errorCode).toBe("FLAG_NOT_FOUND");
    expect((await ofrep(`/evaluate/flags/${name}`, key, { context: {} })).json).toMatchObject({
      key: name,
      errorCode: "TARGETING_KEY_MISSING",
    });
    const parse = await ofrep(`/evaluate/flags/${name}`, key, "{not json");
    expect(parse.status).toBe(400);
    expect(parse.json.errorCode).toBe("PARSE_ERROR");
    const invalid = await ofrep(`/evaluate/flags/${name}`, key, { context: "user-1" });
    expect(invalid.status).toBe(400);
    expect(invalid.json.errorCode).toBe("INVALID_CONTEXT");
  });

  it("evaluates every flag with an ETag, 304 while nothing changed, a new ETag after a change", async () => {
    const { admin, tenant, key } = await setup();
    const name = flagKey("etag");
    await defineFlag(admin, { key: name });
    const first = await ofrep("/evaluate/flags", key, { context: { targetingKey: "u" } });
    expect(first.status).toBe(200);
    const etag = first.headers.get("ETag") as string;
    expect(etag).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(first.json.flags).toContainEqual(expect.objectContaining({ key: name, value: true, reason: "STATIC" }));
    const same = await ofrep("/evaluate/flags", key, { context: { targetingKey: "u" } }, { "If-None-Match": etag });
    expect(same.status).toBe(304);
    expect(same.text).toBe("");
    await call(`/v1/tenants/${tenant.id}/flags/${name}`, { method: "PUT", key, body: { enabled: false } });
    const changed = await ofrep("/evaluate/flags", key, { context: { targetingKey: "u" } }, { "If-None-Match": etag });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("ETag")).not.toBe(etag);
  });

  it("needs a tenant key with entries:read: 401 without, 403 for a platform admin or another scope", async () => {
    const { admin, tenant } = await setup();
    expectProblem(await call("/ofrep/v1/evaluate/flags", { method: "POST", body: {} }), 401, "unauthenticated");
    expectProblem(await ofrep("/evaluate/flags", admin), 403, "forbidden");
    const writer = await tenantKey(admin, tenant.id, ["entries:write"]);
    expectProblem(await ofrep("/evaluate/flags", writer.secret), 403, "insufficient-scope");
    const { key } = await setup();
    const configuration = await call("/ofrep/v1/configuration", { key });
    expect(configuration.json).toMatchObject({ capabilities: { cacheInvalidation: { polling: { enabled: true } } } });
  });
});
