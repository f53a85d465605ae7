import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { newId } from "../../src/http/ids";
import { tenants } from "../../src/tenants/table";
import { fanOut } from "../../src/webhooks/fanout";
import { createEndpoint } from "../../src/webhooks/service";
import { webhookAttempts } from "../../src/webhooks/table";
import { adminKey, call, captureConsole, createTenant, expectProblem, tenantKey } from "../helpers";

// The dead-letter queue's consumer stores what it receives; GET /v1/admin/dead-letters lists it
// and POST …/:id/replay sends one back to its queue.

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

async function waitForDeadLetter(query: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call(`/v1/admin/dead-letters?${query}`, { key: admin });
    expect(res.status, res.text).toBe(200);
    if (res.json.data.length > 0) return res.json.data;
    if (Date.now() > deadline) throw new Error(`no dead letter for ${query}`);
    await scheduler.wait(50);
  }
}

describe("a job that keeps failing", () => {
  captureConsole("error");

  it("lands on the dead-letter queue after its retries, is listed, and replays once its cause is fixed", async () => {
    // A deleted tenant past its grace whose shard cannot be reached: every purge pass throws.
    await env.CONTROL_DB.prepare(
      "INSERT OR IGNORE INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES ('pg-down', 'postgres', 'SHARD_PG_DOWN', 'down', 0, 'active', 0)",
    ).run();
    const tenantId = newId("ten");
    const now = Date.now();
    await db.insert(tenants).values({
      id: tenantId,
      slug: tenantId.toLowerCase(),
      name: "Unreachable",
      tier: "FREE",
      status: "DELETED",
      shardId: "pg-down",
      deletedAt: now - 31 * 86_400_000,
      purgeAfter: now - 86_400_000,
      createdAt: now,
      updatedAt: now,
    });
    await env.LIFECYCLE_QUEUE.send({ kind: "purge-tenant", tenantId });
    const [letter] = await waitForDeadLetter(`kind=purge-tenant&tenant_id=${tenantId}`);
    expect(letter).toMatchObject({
      id: expect.stringMatching(/^dlq_/),
      source: "lifecycle",
      kind: "purge-tenant",
      tenant_id: tenantId,
      body: { kind: "purge-tenant", tenantId },
      replays: 0,
      replayed_at: null,
    });
    expect(await db.query.tenants.findFirst({ where: eq(tenants.id, tenantId) })).toBeDefined();

    // The operator fixes the cause (here: the tenant's data is known to be gone), then replays.
    await db.update(tenants).set({ shardId: null }).where(eq(tenants.id, tenantId));
    const replayed = await call(`/v1/admin/dead-letters/${letter.id}/replay`, { method: "POST", key: admin });
    expect(replayed.status, replayed.text).toBe(200);
    expect(replayed.json).toMatchObject({ id: letter.id, replays: 1, replayed_at: expect.any(String) });
    const deadline = Date.now() + 20_000;
    while (await db.query.tenants.findFirst({ where: eq(tenants.id, tenantId) })) {
      if (Date.now() > deadline) throw new Error("the replayed purge never ran");
      await scheduler.wait(50);
    }
  }, 60_000);
});

describe("a message no job can read", () => {
  captureConsole("warn");

  it("is dead-lettered at once, listed, and refused for replay", async () => {
    await env.LIFECYCLE_QUEUE.send({ kind: "no-such-kind", what: 1 });
    const [letter] = await waitForDeadLetter("kind=no-such-kind");
    expect(letter).toMatchObject({ source: "lifecycle", kind: "no-such-kind", tenant_id: null });
    const res = await call(`/v1/admin/dead-letters/${letter.id}/replay`, { method: "POST", key: admin });
    expectProblem(res, 422, "unprocessable-entity");
  });
});

describe("an event that exhausted its retries", () => {
  it("is stored as the tenant's, from the events queue, and replays to it", async () => {
    const tenantId = newId("ten");
    await env.DEAD_LETTER_QUEUE.send({ id: "evt_x_000000000001", tenant_id: tenantId, seq: 1, type: "entry.created" });
    const [letter] = await waitForDeadLetter(`source=events&tenant_id=${tenantId}`);
    expect(letter).toMatchObject({ source: "events", kind: null, tenant_id: tenantId });
    const replayed = await call(`/v1/admin/dead-letters/${letter.id}/replay`, { method: "POST", key: admin });
    expect(replayed.status, replayed.text).toBe(200);
  });
});

describe("a webhook attempt that exhausted its retries", () => {
  it("is stored as the tenant's, from the webhooks queue, and replays to it", async () => {
    const tenant = await createTenant(admin);
    const { endpoint } = await createEndpoint(env, db, tenant.id, { url: "http://127.0.0.1:9/hook", events: ["*"] });
    // A message whose first attempt was never queued (kept here instead of sent).
    const body = { id: "evt_dlq_000000000001", tenant_id: tenant.id, type: "entry.created" };
    const kept: unknown[] = [];
    await fanOut(env, db, tenant.id, [{ ...body, body }], async (tasks) => {
      kept.push(...tasks.map((t) => t.task));
    });
    const [task] = kept as { message_id: string }[];
    await env.DEAD_LETTER_QUEUE.send(task);
    const [letter] = await waitForDeadLetter(`source=webhooks&tenant_id=${tenant.id}`);
    expect(letter).toMatchObject({ source: "webhooks", kind: null, tenant_id: tenant.id, body: task });
    const replayed = await call(`/v1/admin/dead-letters/${letter.id}/replay`, { method: "POST", key: admin });
    expect(replayed.status, replayed.text).toBe(200);
    // The webhooks queue's consumer makes the attempt.
    const deadline = Date.now() + 15_000;
    while (
      !(await db.query.webhookAttempts.findFirst({ where: eq(webhookAttempts.messageId, task?.message_id as string) }))
    ) {
      if (Date.now() > deadline) throw new Error(`the replayed attempt never ran (endpoint ${endpoint.id})`);
      await scheduler.wait(50);
    }
  });
});

describe("the dead-letter routes' refusals", () => {
  it("refuse tenant keys, bad ids and filters, and unknown ids", async () => {
    const tenant = await createTenant(admin);
    const key = await tenantKey(admin, tenant.id);
    expectProblem(await call("/v1/admin/dead-letters", { key: key.secret }), 403, "forbidden");
    expectProblem(
      await call(`/v1/admin/dead-letters/${newId("dlq")}/replay`, { method: "POST", key: key.secret }),
      403,
      "forbidden",
    );
    expectProblem(await call("/v1/admin/dead-letters?source=smtp", { key: admin }), 400, "validation-error");
    expectProblem(
      await call("/v1/admin/dead-letters/nope/replay", { method: "POST", key: admin }),
      400,
      "validation-error",
    );
    expectProblem(
      await call(`/v1/admin/dead-letters/${newId("dlq")}/replay`, { method: "POST", key: admin }),
      404,
      "not-found",
    );
    expectProblem(await call("/v1/admin/dead-letters"), 401, "unauthenticated");
  });
});
