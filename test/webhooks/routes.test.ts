import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { webhookEndpoints, webhookMessages } from "../../src/webhooks/table";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

// The endpoints' API, and messages made by the real pipeline: an entry's event goes through the
// relay, the events queue and the fan-out to the webhooks queue, whose consumer attempts it
// (to a loopback port nothing listens on, which the tests' allow-list admits: every attempt fails
// with an error).

const db = controlDb(env);
const URL_ = "http://127.0.0.1:9/hook";

async function setup() {
  const admin = await adminKey();
  const tenant = await createTenant(admin);
  const owner = (await tenantKey(admin, tenant.id)).secret;
  const base = `/v1/tenants/${tenant.id}/webhooks`;
  return { admin, tenant, owner, base };
}

async function until<T>(what: string, read: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await scheduler.wait(50);
  }
}

describe("webhook endpoints", () => {
  it("creates an endpoint with a whsec_ secret shown once; lists, reads, changes and deletes it", async () => {
    const { owner, base } = await setup();
    const created = await call(base, {
      method: "POST",
      key: owner,
      body: { url: URL_, events: ["entry.*", "flag.rolled_back"], description: "orders" },
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(created.json).toMatchObject({ url: URL_, enabled: true, disabled_reason: null, description: "orders" });
    expect(created.headers.get("Location")).toBe(`${base}/${created.json.id}`);
    const id = created.json.id;
    const read = await call(`${base}/${id}`, { key: owner });
    expect(read.status).toBe(200);
    expect(read.json.secret).toBeUndefined();
    expect(read.text).not.toContain(created.json.secret);
    const list = await call(base, { key: owner });
    expect(list.json.data.map((e: { id: string }) => e.id)).toEqual([id]);
    // The secret is stored sealed, not as it was shown.
    const row = await env.CONTROL_DB.prepare("SELECT secret FROM webhook_endpoints WHERE id = ?")
      .bind(id)
      .first<{ secret: string }>();
    expect(row?.secret).not.toContain(created.json.secret.slice(6));
    const off = await call(`${base}/${id}`, { method: "PATCH", key: owner, body: { enabled: false } });
    expect(off.json).toMatchObject({ enabled: false, disabled_reason: "manual" });
    const on = await call(`${base}/${id}`, { method: "PATCH", key: owner, body: { enabled: true, events: ["*"] } });
    expect(on.json).toMatchObject({ enabled: true, disabled_reason: null, events: ["*"] });
    const removed = await call(`${base}/${id}`, { method: "DELETE", key: owner });
    expect(removed.status).toBe(204);
    expectProblem(await call(`${base}/${id}`, { key: owner }), 404, "not-found");
    expectProblem(await call(`${base}/${id}`, { method: "DELETE", key: owner }), 404, "not-found");
  });

  it("takes a secret of the caller's, and refuses one of the wrong form", async () => {
    const { owner, base } = await setup();
    const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const created = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"], secret } });
    expect(created.status, created.text).toBe(201);
    expect(created.json.secret).toBe(secret);
    for (const bad of ["MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_short", "whsec_!!!notbase64!!!!!!!!!!!!!!!!!"]) {
      const res = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"], secret: bad } });
      expectProblem(res, 400, "validation-error");
    }
  });

  it("refuses bad input: unknown event types, a missing URL, unknown fields, an empty change", async () => {
    const { owner, base } = await setup();
    for (const body of [
      { url: URL_, events: ["entry.exploded"] },
      { url: URL_, events: ["nothing.*"] },
      { url: URL_, events: [] },
      { events: ["*"] },
      { url: "not a url", events: ["*"] },
      { url: URL_, events: ["*"], tenant_id: "ten_01JD8X5Q3M2V7T6R4N9K0B1C2D" },
    ]) {
      expectProblem(await call(base, { method: "POST", key: owner, body }), 400, "validation-error");
    }
    const created = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"] } });
    expectProblem(
      await call(`${base}/${created.json.id}`, { method: "PATCH", key: owner, body: {} }),
      400,
      "validation-error",
    );
    expectProblem(await call(`${base}/whk_nope`, { key: owner }), 400, "validation-error");
  });

  it("refuses targets the guard refuses (422 webhook-target-refused), on create and on change", async () => {
    const { owner, base } = await setup();
    for (const url of [
      "http://receiver.example.com/hook",
      "https://127.0.0.1/hook",
      "https://2130706433/",
      "https://169.254.169.254/latest/meta-data/",
      "https://[::ffff:10.0.0.1]/",
      "https://metadata.google.internal/",
      "http://localhost:8787/",
    ]) {
      expectProblem(
        await call(base, { method: "POST", key: owner, body: { url, events: ["*"] } }),
        422,
        "webhook-target-refused",
      );
    }
    const created = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"] } });
    const moved = await call(`${base}/${created.json.id}`, {
      method: "PATCH",
      key: owner,
      body: { url: "https://10.0.0.1/" },
    });
    expectProblem(moved, 422, "webhook-target-refused");
  });

  it("needs tenant:admin, and another tenant's endpoints are 404", async () => {
    const { admin, tenant, owner, base } = await setup();
    const created = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"] } });
    const reader = (await tenantKey(admin, tenant.id, ["entries:read", "entries:write"])).secret;
    expectProblem(await call(base, { key: reader }), 403, "insufficient-scope");
    expectProblem(
      await call(base, { method: "POST", key: reader, body: { url: URL_, events: ["*"] } }),
      403,
      "insufficient-scope",
    );
    expectProblem(
      await call(`${base}/${created.json.id}/test`, { method: "POST", key: reader }),
      403,
      "insufficient-scope",
    );
    const other = await createTenant(admin);
    const theirs = (await tenantKey(admin, other.id)).secret;
    // Their key on this tenant's path, and this tenant's endpoint on their path.
    expectProblem(await call(base, { key: theirs }), 404, "not-found");
    const foreign = `/v1/tenants/${other.id}/webhooks/${created.json.id}`;
    for (const [method, path] of [
      ["GET", foreign],
      ["PATCH", foreign],
      ["DELETE", foreign],
      ["POST", `${foreign}/secret/rotate`],
      ["POST", `${foreign}/test`],
      ["GET", `${foreign}/messages`],
    ] as const) {
      const res = await call(path, { method, key: theirs, body: method === "PATCH" ? { enabled: false } : undefined });
      expectProblem(res, 404, "not-found");
    }
    expect((await call(`${base}/${created.json.id}`, { key: owner })).json.enabled).toBe(true);
  });

  it("rotates the secret: a new one, the old one valid for 24 h more", async () => {
    const { owner, base } = await setup();
    const created = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"] } });
    const before = Date.now();
    const rotated = await call(`${base}/${created.json.id}/secret/rotate`, { method: "POST", key: owner });
    expect(rotated.status, rotated.text).toBe(200);
    expect(rotated.json.secret).toMatch(/^whsec_/);
    expect(rotated.json.secret).not.toBe(created.json.secret);
    const until = Date.parse(rotated.json.previous_secret_valid_until);
    expect(until).toBeGreaterThanOrEqual(before + 24 * 3600_000);
    expect(until).toBeLessThan(before + 24 * 3600_000 + 60_000);
    const given = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const again = await call(`${base}/${created.json.id}/secret/rotate`, {
      method: "POST",
      key: owner,
      body: { secret: given },
    });
    expect(again.json.secret).toBe(given);
  });

  it("at most 20 endpoints a tenant", async () => {
    const { owner, base } = await setup();
    for (let i = 0; i < 20; i++) {
      const res = await call(base, { method: "POST", key: owner, body: { url: `${URL_}/${i}`, events: ["*"] } });
      expect(res.status).toBe(201);
    }
    expectProblem(
      await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"] } }),
      409,
      "conflict",
    );
  });

  it("records every change in the tenant's audit trail, never the secret", async () => {
    const { tenant, owner, base } = await setup();
    const created = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"] } });
    await call(`${base}/${created.json.id}/secret/rotate`, { method: "POST", key: owner });
    const trail = await until("audit records", async () => {
      const res = await call(`/v1/tenants/${tenant.id}/audit?limit=100`, { key: owner });
      const actions = res.json.data.map((r: { action: string }) => r.action);
      return actions.includes("webhook.secret_rotated") ? res : undefined;
    });
    const record = trail.json.data.find((r: { action: string }) => r.action === "webhook.endpoint_created");
    expect(record.targets).toContainEqual({ type: "webhook", id: created.json.id });
    expect(trail.text).not.toContain(created.json.secret.slice(6));
  });
});

describe("webhook messages", () => {
  it("sends each subscribed event through the real queues; lists its messages and their attempts", async () => {
    const { owner, base, tenant } = await setup();
    const created = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["entry.created"] } });
    const endpointId = created.json.id;
    const entry = await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key: owner,
      body: { data: { n: 1 }, tags: [] },
    });
    expect(entry.status).toBe(201);
    // entry.created goes; the key.created of the setup does not (not subscribed, and before the endpoint).
    const listed = await until("the message", async () => {
      const res = await call(`${base}/${endpointId}/messages`, { key: owner });
      return res.json.data[0];
    });
    // Its first attempt is logged once it is over (the attempt is claimed on the message first).
    const attempts = await until("the first attempt logged", async () => {
      const res = await call(`${base}/${endpointId}/messages/${listed.id}/attempts`, { key: owner });
      expect(res.status).toBe(200);
      return res.json.data.length > 0 ? res : undefined;
    });
    const message = (await call(`${base}/${endpointId}/messages/${listed.id}`, { key: owner })).json;
    expect(message).toMatchObject({
      endpoint_id: endpointId,
      event_type: "entry.created",
      status: "pending",
      attempts: 1,
    });
    const events = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key: owner });
    const event = events.json.data.find((e: { type: string }) => e.type === "entry.created");
    // The body is the feed's event itself, and its id is the webhook-id.
    expect(message.payload).toEqual(event);
    expect(message.event_id).toBe(event.id);
    expect(attempts.json.data[0]).toMatchObject({ attempt: 1, trigger: "scheduled", url: URL_, status_code: null });
    expect(attempts.json.data[0].error).toBeTruthy();
    // The next attempt is due on the schedule: 5 s ± 20 % after the first.
    const next = Date.parse(message.next_attempt_at) - Date.parse(attempts.json.data[0].started_at);
    expect(next).toBeGreaterThanOrEqual(4000);
    expect(next).toBeLessThanOrEqual(6000);
    const one = await call(`${base}/${endpointId}/messages/${message.id}`, { key: owner });
    expect(one.json.id).toBe(message.id);
    const pending = await call(`${base}/${endpointId}/messages?status=pending`, { key: owner });
    expect(pending.json.data.map((m: { id: string }) => m.id)).toContain(message.id);
    const delivered = await call(`${base}/${endpointId}/messages?status=delivered`, { key: owner });
    expect(delivered.json.data).toEqual([]);
    // A pending message is being delivered already.
    expectProblem(
      await call(`${base}/${endpointId}/messages/${message.id}/replay`, { method: "POST", key: owner }),
      409,
      "conflict",
    );
    expectProblem(await call(`${base}/${endpointId}/messages?status=lost`, { key: owner }), 400, "validation-error");
    expectProblem(
      await call(`${base}/${endpointId}/messages/msg_01JD8X5Q3M2V7T6R4N9K0B1C2D`, { key: owner }),
      404,
      "not-found",
    );
  });

  it("replays a message and recovers failed ones since a time, through the real queue", async () => {
    const { owner, base } = await setup();
    const created = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"] } });
    const endpointId = created.json.id;
    const test = await call(`${base}/${endpointId}/test`, { method: "POST", key: owner });
    expect(test.status, test.text).toBe(202);
    expect(test.json).toMatchObject({ event_type: "webhook.test", status: "pending" });
    expect(test.json.payload).toMatchObject({
      type: "webhook.test",
      subject: { type: "webhook", id: endpointId },
    });
    const attempted = async (id: string, n: number) =>
      until(`attempt ${n} of ${id}`, async () => {
        const res = await call(`${base}/${endpointId}/messages/${id}/attempts`, { key: owner });
        return res.json.data.length >= n ? res.json.data : undefined;
      });
    expect((await attempted(test.json.id, 1))[0].trigger).toBe("test");
    // Its run over (as after its eighth attempt), it can be replayed.
    await db
      .update(webhookMessages)
      .set({ status: "failed", nextAttemptAt: null })
      .where(eq(webhookMessages.id, test.json.id));
    const replayed = await call(`${base}/${endpointId}/messages/${test.json.id}/replay`, {
      method: "POST",
      key: owner,
    });
    expect(replayed.status, replayed.text).toBe(202);
    expect(replayed.json.status).toBe("pending");
    const afterReplay = await attempted(test.json.id, 2);
    expect(afterReplay[1]).toMatchObject({ attempt: 2, trigger: "replay" });
    // Two more, failed an hour apart as if; recover since between them sends the later one only.
    const older = await call(`${base}/${endpointId}/test`, { method: "POST", key: owner });
    const newer = await call(`${base}/${endpointId}/test`, { method: "POST", key: owner });
    await attempted(older.json.id, 1);
    await attempted(newer.json.id, 1);
    const now = Date.now();
    for (const [id, at] of [
      [older.json.id, now - 2 * 3600_000],
      [newer.json.id, now - 600_000],
      [test.json.id, now - 3 * 3600_000],
    ] as const) {
      await db
        .update(webhookMessages)
        .set({ status: "failed", nextAttemptAt: null, createdAt: at })
        .where(eq(webhookMessages.id, id));
    }
    // Every attempt here fails: the endpoint's circuit, open after five, would hold the recovery a minute.
    await db.update(webhookEndpoints).set({ circuit: null }).where(eq(webhookEndpoints.id, endpointId));
    const since = new Date(now - 3600_000).toISOString();
    const recovered = await call(`${base}/${endpointId}/recover`, { method: "POST", key: owner, body: { since } });
    expect(recovered.status, recovered.text).toBe(202);
    expect(recovered.json).toEqual({ recovering: 1, more: false });
    const newerAttempts = await attempted(newer.json.id, 2);
    expect(newerAttempts[1]).toMatchObject({ attempt: 2, trigger: "recover" });
    expect((await call(`${base}/${endpointId}/messages/${older.json.id}`, { key: owner })).json.status).toBe("failed");
    expectProblem(
      await call(`${base}/${endpointId}/recover`, { method: "POST", key: owner, body: { since: "yesterday" } }),
      400,
      "validation-error",
    );
    // A disabled endpoint takes no test, replay or recovery until enabled again.
    await call(`${base}/${endpointId}`, { method: "PATCH", key: owner, body: { enabled: false } });
    expectProblem(await call(`${base}/${endpointId}/test`, { method: "POST", key: owner }), 409, "conflict");
    expectProblem(
      await call(`${base}/${endpointId}/recover`, { method: "POST", key: owner, body: { since } }),
      409,
      "conflict",
    );
  });

  it("deleting an endpoint deletes its messages and attempts", async () => {
    const { owner, base, tenant } = await setup();
    const created = await call(base, { method: "POST", key: owner, body: { url: URL_, events: ["*"] } });
    const test = await call(`${base}/${created.json.id}/test`, { method: "POST", key: owner });
    await until("an attempt", async () => {
      const res = await call(`${base}/${created.json.id}/messages/${test.json.id}/attempts`, { key: owner });
      return res.json.data.length > 0 ? true : undefined;
    });
    await call(`${base}/${created.json.id}`, { method: "DELETE", key: owner });
    for (const table of ["webhook_messages", "webhook_attempts"]) {
      const left = await env.CONTROL_DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = ?`)
        .bind(tenant.id)
        .first<{ n: number }>();
      expect(left?.n).toBe(0);
    }
  });
});
