import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { adminKey, call, createTenant, expectProblem, listAll, tenantKey, uniqueSlug } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

let keyCounter = 0;
const newIdempotencyKey = () => `idem-${Date.now().toString(36)}-${keyCounter++}`;

const entriesOf = (tenantId: string) => `/v1/tenants/${tenantId}/entries`;

async function listEntryIds(tenantId: string): Promise<string[]> {
  const res = await call(`${entriesOf(tenantId)}?limit=100`, { key: admin });
  expect(res.status).toBe(200);
  return res.json.data.map((e: { id: string }) => e.id);
}

function postEntry(tenantId: string, key: string, idempotencyKey: string, body: unknown, requestId?: string) {
  return call(entriesOf(tenantId), {
    method: "POST",
    key,
    body,
    headers: { "Idempotency-Key": idempotencyKey, ...(requestId ? { "X-Request-Id": requestId } : {}) },
  });
}

async function storedRecords(idempotencyKey: string) {
  const { results } = await env.CONTROL_DB.prepare("SELECT * FROM idempotency_records WHERE key = ?")
    .bind(idempotencyKey)
    .all<{ state: string; status: number | null; expires_at: number; created_at: number }>();
  return results;
}

/** Rewinds a completed record to "in progress since startedAt", as if the first request were still running. */
const putBackInFlight = (key: string, startedAt: number) =>
  env.CONTROL_DB.prepare(
    "UPDATE idempotency_records SET state = 'in_progress', status = NULL, body = NULL, created_at = ? WHERE key = ?",
  )
    .bind(startedAt, key)
    .run();

describe("Idempotency-Key on POST entries", () => {
  it("replays the first response for the same key and body, creating only one entry", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const body = { data: { title: "hello" }, tags: ["a"] };

    const first = await postEntry(tenant.id, admin, key, body, "first-req");
    expect(first.status).toBe(201);
    expect(first.headers.get("Idempotent-Replayed")).toBeNull();

    const second = await postEntry(tenant.id, admin, key, body, "second-req");
    expect(second.status).toBe(201);
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    expect(second.text).toBe(first.text);
    expect(second.json.id).toBe(first.json.id);
    expect(second.headers.get("Content-Type")).toBe(first.headers.get("Content-Type"));
    expect(second.headers.get("ETag")).toBe(first.headers.get("ETag"));
    expect(second.headers.get("Location")).toBe(first.headers.get("Location"));
    // The replay is a new request with its own id.
    expect(first.headers.get("X-Request-Id")).toBe("first-req");
    expect(second.headers.get("X-Request-Id")).toBe("second-req");

    expect(await listEntryIds(tenant.id)).toEqual([first.json.id]);
  });

  it("keeps replaying on every further retry with the same key and body", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const body = { data: { n: 1 } };
    const first = await postEntry(tenant.id, admin, key, body);
    expect(first.status).toBe(201);
    for (let i = 0; i < 3; i++) {
      const again = await postEntry(tenant.id, admin, key, body);
      expect(again.status).toBe(201);
      expect(again.headers.get("Idempotent-Replayed")).toBe("true");
      expect(again.json).toEqual(first.json);
    }
    expect(await listEntryIds(tenant.id)).toHaveLength(1);
  });

  it("replays a large first response byte for byte", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    // Close to the 64 KiB entry limit, so the stored response is far larger than 32 KiB.
    const body = { data: { blob: "x".repeat(60_000) }, tags: ["big"] };

    const first = await postEntry(tenant.id, admin, key, body);
    expect(first.status).toBe(201);
    expect(first.text.length).toBeGreaterThan(60_000);

    const replay = await postEntry(tenant.id, admin, key, body);
    expect(replay.status).toBe(201);
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
    expect(replay.text).toBe(first.text);
    expect(await listEntryIds(tenant.id)).toEqual([first.json.id]);
  });

  it("stores the completed response in the control database for 24 hours", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const before = Date.now();
    const res = await postEntry(tenant.id, admin, key, { data: { stored: true } });
    expect(res.status).toBe(201);
    const [record] = await storedRecords(key);
    expect(record).toMatchObject({ state: "completed", status: 201 });
    const ttl = (record?.expires_at ?? 0) - (record?.created_at ?? 0);
    expect(ttl).toBe(24 * 3600_000);
    expect(record?.created_at).toBeGreaterThanOrEqual(before);
  });

  it("answers 422 idempotency-key-reused for the same key with a different body", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const first = await postEntry(tenant.id, admin, key, { data: { title: "one" } });
    expect(first.status).toBe(201);

    const reused = await postEntry(tenant.id, admin, key, { data: { title: "two" } });
    expectProblem(reused, 422, "idempotency-key-reused");
    expect(reused.headers.get("Idempotent-Replayed")).toBeNull();

    expect(await listEntryIds(tenant.id)).toEqual([first.json.id]);
  });

  it("answers 422 idempotency-key-reused for the same key on another path", async () => {
    const a = await createTenant(admin);
    const b = await createTenant(admin);
    const key = newIdempotencyKey();
    const body = { data: { title: "same" } };
    expect((await postEntry(a.id, admin, key, body)).status).toBe(201);

    const elsewhere = await postEntry(b.id, admin, key, body);
    expectProblem(elsewhere, 422, "idempotency-key-reused");
    expect(await listEntryIds(b.id)).toEqual([]);
  });

  it("lets concurrent duplicates create exactly one entry, the others answering 409 or a replay", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const body = { data: { title: "race" } };

    const responses = await Promise.all([
      postEntry(tenant.id, admin, key, body),
      postEntry(tenant.id, admin, key, body),
      postEntry(tenant.id, admin, key, body),
    ]);

    const created = responses.filter((r) => r.status === 201);
    const inUse = responses.filter((r) => r.status === 409);
    expect(created.length + inUse.length).toBe(responses.length);
    expect(created.length).toBeGreaterThanOrEqual(1);
    const originals = created.filter((r) => r.headers.get("Idempotent-Replayed") === null);
    expect(originals).toHaveLength(1);
    const id = originals[0]?.json.id;
    for (const res of created) expect(res.json.id).toBe(id);
    for (const res of inUse) {
      expectProblem(res, 409, "idempotency-key-in-use");
      expect(res.headers.get("Retry-After")).toBe("1");
    }

    expect(await listEntryIds(tenant.id)).toEqual([id]);

    // Once the first request has finished, a retry gets its response.
    const retry = await postEntry(tenant.id, admin, key, body);
    expect(retry.status).toBe(201);
    expect(retry.headers.get("Idempotent-Replayed")).toBe("true");
    expect(retry.json.id).toBe(id);
  });

  it("answers 409 idempotency-key-in-use while the first request is still in progress", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const body = { data: { title: "slow" } };
    const first = await postEntry(tenant.id, admin, key, body);
    expect(first.status).toBe(201);
    // Put the record back in flight, as if the first request had not finished yet.
    await putBackInFlight(key, Date.now());

    const duplicate = await postEntry(tenant.id, admin, key, body);
    expectProblem(duplicate, 409, "idempotency-key-in-use");
    expect(duplicate.headers.get("Retry-After")).toBe("1");
    expect(await listEntryIds(tenant.id)).toEqual([first.json.id]);
  });

  it("treats an in-progress record older than a minute as abandoned and runs the request again", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const body = { data: { title: "orphan" } };
    const first = await postEntry(tenant.id, admin, key, body);
    expect(first.status).toBe(201);
    // As if the isolate had died mid-request two minutes ago, before recording the outcome.
    await putBackInFlight(key, Date.now() - 120_000);

    const retry = await postEntry(tenant.id, admin, key, body);
    expect(retry.status).toBe(201);
    expect(retry.headers.get("Idempotent-Replayed")).toBeNull();
    expect(retry.json.id).not.toBe(first.json.id);
    const [record] = await storedRecords(key);
    expect(record).toMatchObject({ state: "completed", status: 201 });
  });

  it("scopes keys per API key, so the same Idempotency-Key from two keys creates two entries", async () => {
    const tenant = await createTenant(admin);
    const one = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
    const two = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
    const key = newIdempotencyKey();
    const body = { data: { title: "shared key" } };

    const a = await postEntry(tenant.id, one.secret, key, body);
    const b = await postEntry(tenant.id, two.secret, key, body);
    expect(a.status).toBe(201);
    expect(b.status).toBe(201);
    expect(b.headers.get("Idempotent-Replayed")).toBeNull();
    expect(a.json.id).not.toBe(b.json.id);

    expect((await listEntryIds(tenant.id)).sort()).toEqual([a.json.id, b.json.id].sort());
    expect(await storedRecords(key)).toHaveLength(2);
  });

  it("does not store a 400 validation failure, so a corrected retry with the same key succeeds", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();

    const invalid = await postEntry(tenant.id, admin, key, { data: "not an object" });
    expectProblem(invalid, 400, "validation-error");
    expect(await storedRecords(key)).toHaveLength(0);

    const corrected = await postEntry(tenant.id, admin, key, { data: { fixed: true } });
    expect(corrected.status).toBe(201);
    expect(corrected.headers.get("Idempotent-Replayed")).toBeNull();
    expect(await listEntryIds(tenant.id)).toEqual([corrected.json.id]);
  });

  it("does not store a 415 for a body that is not JSON, so the JSON retry with the same key succeeds", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const plain = await call(entriesOf(tenant.id), {
      method: "POST",
      key: admin,
      headers: { "Idempotency-Key": key, "Content-Type": "text/plain" },
      body: JSON.stringify({ data: { title: "plain" } }),
    });
    expectProblem(plain, 415, "unsupported-media-type");
    expect(await storedRecords(key)).toHaveLength(0);

    const json = await postEntry(tenant.id, admin, key, { data: { title: "plain" } });
    expect(json.status).toBe(201);
    expect(json.headers.get("Idempotent-Replayed")).toBeNull();
  });

  it("does not store a 403 scope failure, so the same key works once the caller may write", async () => {
    const tenant = await createTenant(admin);
    const reader = await tenantKey(admin, tenant.id, ["entries:read"]);
    const key = newIdempotencyKey();
    const body = { data: { title: "denied" } };

    const denied = await postEntry(tenant.id, reader.secret, key, body);
    expectProblem(denied, 403, "insufficient-scope");
    expect(await storedRecords(key)).toHaveLength(0);
    expect(await listEntryIds(tenant.id)).toEqual([]);
  });

  it("lets a key be reused with a different body once its 24 hours have passed", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const first = await postEntry(tenant.id, admin, key, { data: { title: "day one" } });
    expect(first.status).toBe(201);

    await env.CONTROL_DB.prepare("UPDATE idempotency_records SET expires_at = 0 WHERE key = ?").bind(key).run();

    const later = await postEntry(tenant.id, admin, key, { data: { title: "day two" } });
    expect(later.status).toBe(201);
    expect(later.headers.get("Idempotent-Replayed")).toBeNull();
    expect(later.json.id).not.toBe(first.json.id);
    expect(later.json.data).toEqual({ title: "day two" });
    expect((await listEntryIds(tenant.id)).sort()).toEqual([first.json.id, later.json.id].sort());

    // The new outcome is what the key replays from now on.
    const replay = await postEntry(tenant.id, admin, key, { data: { title: "day two" } });
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
    expect(replay.json.id).toBe(later.json.id);
  });

  it("ignores Idempotency-Key on methods other than POST", async () => {
    const tenant = await createTenant(admin);
    const key = newIdempotencyKey();
    const first = await call(`/v1/tenants/${tenant.id}`, {
      method: "PATCH",
      key: admin,
      headers: { "Idempotency-Key": key },
      body: { name: "First name" },
    });
    const second = await call(`/v1/tenants/${tenant.id}`, {
      method: "PATCH",
      key: admin,
      headers: { "Idempotency-Key": key },
      body: { name: "Second name" },
    });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.headers.get("Idempotent-Replayed")).toBeNull();
    expect(second.json.name).toBe("Second name");
    expect(await storedRecords(key)).toHaveLength(0);
  });
});

describe("Idempotency-Key values", () => {
  it("accepts a key of exactly 255 visible ASCII characters", async () => {
    const tenant = await createTenant(admin);
    const res = await postEntry(tenant.id, admin, `${"k".repeat(254)}~`, { data: {} });
    expect(res.status).toBe(201);
  });

  it("rejects a key longer than 255 characters with 400", async () => {
    const tenant = await createTenant(admin);
    const res = await postEntry(tenant.id, admin, "k".repeat(256), { data: {} });
    expectProblem(res, 400, "validation-error");
    expect(res.json.errors).toEqual([expect.objectContaining({ path: "header.Idempotency-Key" })]);
    expect(await listEntryIds(tenant.id)).toEqual([]);
  });

  it("rejects a key with non-ASCII characters with 400", async () => {
    const tenant = await createTenant(admin);
    const res = await postEntry(tenant.id, admin, "clé-été", { data: {} });
    expectProblem(res, 400, "validation-error");
    expect(res.json.errors).toEqual([expect.objectContaining({ path: "header.Idempotency-Key" })]);
    expect(await listEntryIds(tenant.id)).toEqual([]);
  });

  it("rejects a key containing a space with 400", async () => {
    const tenant = await createTenant(admin);
    const res = await postEntry(tenant.id, admin, "two words", { data: {} });
    expectProblem(res, 400, "validation-error");
    expect(await listEntryIds(tenant.id)).toEqual([]);
  });
});

describe("Idempotency-Key on POST /v1/tenants", () => {
  async function tenantsWithSlug(slug: string) {
    const { items } = await listAll<{ slug: string }>("/v1/tenants", admin);
    return items.filter((t) => t.slug === slug);
  }

  it("replays the created tenant instead of answering a slug conflict", async () => {
    const key = newIdempotencyKey();
    const body = { name: "Replay Co", slug: uniqueSlug("replay"), tier: "FREE" };
    const create = () => call("/v1/tenants", { method: "POST", key: admin, body, headers: { "Idempotency-Key": key } });

    const first = await create();
    expect(first.status).toBe(201);
    const second = await create();
    expect(second.status).toBe(201);
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    expect(second.text).toBe(first.text);
    expect(second.headers.get("Location")).toBe(`/v1/tenants/${first.json.id}`);
    expect(await tenantsWithSlug(body.slug)).toHaveLength(1);
  });

  it("answers 422 idempotency-key-reused when the same key creates another tenant", async () => {
    const key = newIdempotencyKey();
    const create = (slug: string) =>
      call("/v1/tenants", {
        method: "POST",
        key: admin,
        body: { name: "Reuse Co", slug, tier: "FREE" },
        headers: { "Idempotency-Key": key },
      });
    expect((await create(uniqueSlug("first"))).status).toBe(201);
    const otherSlug = uniqueSlug("second");
    expectProblem(await create(otherSlug), 422, "idempotency-key-reused");
    expect(await tenantsWithSlug(otherSlug)).toHaveLength(0);
  });

  it("stores and replays a handler's 409 conflict like any completed response", async () => {
    const existing = await createTenant(admin);
    const key = newIdempotencyKey();
    const body = { name: "Dup", slug: existing.slug, tier: "FREE" };
    const create = () => call("/v1/tenants", { method: "POST", key: admin, body, headers: { "Idempotency-Key": key } });

    const conflict = await create();
    expectProblem(conflict, 409, "conflict");
    const replay = await create();
    expect(replay.status).toBe(409);
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
    expect(replay.headers.get("Content-Type")).toBe("application/problem+json");
    expect(replay.text).toBe(conflict.text);
  });

  it("lets a new tenant be created with the same key after expiry", async () => {
    const key = newIdempotencyKey();
    const create = (slug: string) =>
      call("/v1/tenants", {
        method: "POST",
        key: admin,
        body: { name: "Expiry Co", slug, tier: "FREE" },
        headers: { "Idempotency-Key": key },
      });
    const first = await create(uniqueSlug("exp"));
    expect(first.status).toBe(201);
    await env.CONTROL_DB.prepare("UPDATE idempotency_records SET expires_at = 0 WHERE key = ?").bind(key).run();
    const second = await create(uniqueSlug("exp"));
    expect(second.status).toBe(201);
    expect(second.headers.get("Idempotent-Replayed")).toBeNull();
    expect(second.json.id).not.toBe(first.json.id);
  });

  it("does not store a 400 on tenant creation, so the corrected request creates the tenant", async () => {
    const key = newIdempotencyKey();
    const slug = uniqueSlug("fix");
    const send = (body: unknown) =>
      call("/v1/tenants", { method: "POST", key: admin, body, headers: { "Idempotency-Key": key } });

    expectProblem(await send({ name: "Fix Co", slug: "Not A Slug", tier: "FREE" }), 400, "validation-error");
    const fixed = await send({ name: "Fix Co", slug, tier: "FREE" });
    expect(fixed.status).toBe(201);
    expect(fixed.json.slug).toBe(slug);
  });
});
