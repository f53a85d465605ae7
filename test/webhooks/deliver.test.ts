import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { type DeliveryTask, deliverTask, type QueuedTask, type Send, sweepWebhooks } from "../../src/webhooks/deliver";
import { fanOut } from "../../src/webhooks/fanout";
import { FAILING_DISABLES_AFTER_MS } from "../../src/webhooks/schedule";
import { createEndpoint, ROTATION_OVERLAP_MS, rotateSecret } from "../../src/webhooks/service";
import { webhookAttempts, webhookEndpoints, webhookMessages } from "../../src/webhooks/table";
import { adminKey, call, createTenant, settled, tenantKey } from "../helpers";

// Each attempt runs here as the webhooks queue's consumer runs it, with the clock, the jitter and
// the receiver chosen per case; what it would queue next is kept rather than sent, so each case
// sees every delay. (test/webhooks/delivery.node.test.ts runs the same through the real queue to
// a real receiver.)

const db = controlDb(env);
const T0 = Date.parse("2026-12-02T10:00:00Z");
const STEP_SECONDS = [0, 5, 300, 1800, 7200, 18000, 36000, 36000];

type Received = { url: string; headers: Record<string, string>; body: string };

/** A receiver answering with `answer(n)` for its nth request (from 0), keeping what it got. */
function receiver(answer: (n: number, request: Request) => Response | Promise<Response>) {
  const received: Received[] = [];
  const send: Send = async (request) => {
    const body = await request.text();
    received.push({ url: request.url, headers: Object.fromEntries(request.headers), body });
    return answer(received.length - 1, request);
  };
  return { send, received };
}

async function setup(events = ["*"], url = "https://receiver.example.com/hook") {
  const admin = await adminKey();
  const tenant = await createTenant(admin);
  const { endpoint, secret } = await createEndpoint(env, db, tenant.id, {
    url,
    events,
  });
  let seq = 0;
  /** One event of the tenant fanned out to its endpoints; returns the first attempt of each message. */
  const publish = async (type = "entry.created") => {
    seq++;
    const body = {
      id: `evt_${tenant.id.slice(4)}_${String(seq).padStart(12, "0")}`,
      tenant_id: tenant.id,
      seq,
      type,
      subject: { type: "entry", id: `ent_${seq}` },
      data: { id: `ent_${seq}`, data: { n: seq } },
      occurred_at: new Date(T0).toISOString(),
      request_id: null,
      actor: { type: "system", id: "test" },
    };
    const queued: QueuedTask[] = [];
    await fanOut(env, db, tenant.id, [{ id: body.id, tenant_id: tenant.id, type, body }], async (tasks) => {
      queued.push(...tasks);
    });
    return { body, tasks: queued.map((q) => q.task) };
  };
  return { admin, tenant, endpoint, secret, publish };
}

/** Runs `task` with the options given, returning the result and what it queued. */
async function run(task: DeliveryTask, options: Parameters<typeof deliverTask>[3]) {
  const queued: QueuedTask[] = [];
  const result = await deliverTask(env, db, task, {
    random: () => 0.5,
    ...options,
    enqueue: async (tasks) => {
      queued.push(...tasks);
    },
  });
  return { result, next: queued[0] };
}

const messageOf = async (id: string) =>
  (await db.query.webhookMessages.findFirst({
    where: eq(webhookMessages.id, id),
  })) as typeof webhookMessages.$inferSelect;
const attemptsOf = (id: string) =>
  db.select().from(webhookAttempts).where(eq(webhookAttempts.messageId, id)).orderBy(webhookAttempts.attempt);
const endpointOf = async (id: string) =>
  (await db.query.webhookEndpoints.findFirst({
    where: eq(webhookEndpoints.id, id),
  })) as typeof webhookEndpoints.$inferSelect;

describe("webhook delivery", () => {
  it("sends the event signed the Standard Webhooks way; the official library verifies it", async () => {
    const { secret, publish } = await setup();
    const { body, tasks } = await publish();
    expect(tasks).toHaveLength(1);
    const answer = "x".repeat(5000);
    const { send, received } = receiver(() => new Response(answer, { status: 200 }));
    const { result, next } = await run(tasks[0] as DeliveryTask, { send });
    expect(result).toBe("delivered");
    expect(next).toBeUndefined();
    expect(received).toHaveLength(1);
    const got = received[0] as Received;
    expect(got.headers["webhook-id"]).toBe(body.id);
    expect(got.headers["content-type"]).toBe("application/json");
    // The body is the event exactly as the feed publishes it.
    expect(JSON.parse(got.body)).toEqual(body);
    expect(new Webhook(secret).verify(got.body, got.headers)).toEqual(body);
    // Another secret, a changed body or an old timestamp do not verify.
    expect(() => new Webhook("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").verify(got.body, got.headers)).toThrow();
    expect(() => new Webhook(secret).verify(got.body.replace("1", "2"), got.headers)).toThrow();
    const message = await messageOf((tasks[0] as DeliveryTask).message_id);
    expect(message).toMatchObject({ status: "delivered", attempts: 1, lastStatusCode: 200 });
    const [attempt] = await attemptsOf(message.id);
    expect(attempt).toMatchObject({ attempt: 1, statusCode: 200, error: null, trigger: "scheduled" });
    // Only the response's first 1 KiB is kept.
    expect(attempt?.response).toBe("x".repeat(1024));
  });

  it("fans an event out once per endpoint, to the endpoints whose patterns match", async () => {
    const { tenant, publish } = await setup(["entry.*"]);
    await createEndpoint(env, db, tenant.id, { url: "https://b.example.com/", events: ["flag.rolled_back"] });
    await createEndpoint(env, db, tenant.id, { url: "https://c.example.com/", events: ["*"], enabled: false });
    const entry = await publish("entry.deleted");
    expect(entry.tasks).toHaveLength(1);
    const flag = await publish("flag.rolled_back");
    expect(flag.tasks).toHaveLength(1);
    const user = await publish("user.created");
    expect(user.tasks).toHaveLength(0);
    // The feed delivers at least once: the same event again makes no second message.
    const again: QueuedTask[] = [];
    await fanOut(
      env,
      db,
      tenant.id,
      [{ id: entry.body.id, tenant_id: tenant.id, type: "entry.deleted", body: entry.body }],
      async (t) => {
        again.push(...t);
      },
    );
    expect(again).toHaveLength(0);
  });

  it("retries on the schedule with ±20 % jitter; 3xx, 5xx, refusals and timeouts fail; a duplicate does nothing", async () => {
    const { publish } = await setup();
    const { tasks } = await publish();
    let task = tasks[0] as DeliveryTask;
    const answers: ((request: Request) => Response | Promise<Response>)[] = [
      () => new Response("down", { status: 500 }),
      () => new Response(null, { status: 302, headers: { Location: "https://169.254.169.254/" } }),
      // Never answers: aborted at the timeout.
      (request) =>
        new Promise<Response>((_, reject) =>
          request.signal.addEventListener("abort", () => reject(request.signal.reason)),
        ),
      () => new Response("", { status: 400 }),
      () => new Response("", { status: 404 }),
      () => new Response("", { status: 502 }),
      () => {
        throw new TypeError("Network connection lost.");
      },
      () => new Response("", { status: 500 }),
    ];
    const { send, received } = receiver((n, request) => (answers[n] as (r: Request) => Response)(request));
    let now = T0;
    for (let n = 0; n < 8; n++) {
      // The jitter's extremes in turn: 0 → -20 %, 0.99… → +20 %.
      const random = n % 2 === 0 ? 0 : 0.999999;
      const { result, next } = await run(task, { send, now, random: () => random, timeoutMs: 50 });
      if (n < 7) {
        expect(result).toBe("retrying");
        const base = STEP_SECONDS[n + 1] as number;
        expect((next as QueuedTask).delaySeconds).toBeCloseTo(base * (random === 0 ? 0.8 : 1.2), 0);
        expect((next as QueuedTask).task).toEqual({ ...task, attempt: task.attempt + 1, trigger: "scheduled" });
        const message = await messageOf(task.message_id);
        expect(message.status).toBe("pending");
        expect(message.nextAttemptAt).toBeCloseTo(now + (next as QueuedTask).delaySeconds * 1000, -1);
        // The same attempt queued twice is made once.
        expect((await run(task, { send, now })).result).toBe("skipped");
        task = (next as QueuedTask).task;
        now += (next as QueuedTask).delaySeconds * 1000;
      } else {
        // The eighth attempt was the last.
        expect(result).toBe("failed");
        expect(next).toBeUndefined();
      }
    }
    expect(received).toHaveLength(8);
    const message = await messageOf(task.message_id);
    expect(message).toMatchObject({ status: "failed", attempts: 8, nextAttemptAt: null });
    const attempts = await attemptsOf(task.message_id);
    expect(attempts.map((a) => a.statusCode)).toEqual([500, 302, null, 400, 404, 502, null, 500]);
    expect(attempts[1]?.error).toBe("redirects are not followed");
    expect(attempts[2]?.error).toBe("no answer within 0.05 s");
    expect(attempts[6]?.error).toContain("Network connection lost");
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it("waits at least what Retry-After asks on a 429 or a 503", async () => {
    const { publish } = await setup();
    const { tasks } = await publish();
    const first = receiver(() => new Response("slow down", { status: 429, headers: { "Retry-After": "3600" } }));
    const one = await run(tasks[0] as DeliveryTask, { send: first.send, now: T0 });
    expect(one.result).toBe("retrying");
    expect(one.next?.delaySeconds).toBe(3600);
    const second = receiver(
      () =>
        new Response("maintenance", {
          status: 503,
          headers: { "Retry-After": new Date(Date.now() + 7_200_000).toUTCString() },
        }),
    );
    const two = await run((one.next as QueuedTask).task, { send: second.send, now: T0 + 3_600_000 });
    expect(two.next?.delaySeconds).toBeGreaterThan(7_190);
    expect(two.next?.delaySeconds).toBeLessThanOrEqual(7_200);
    // A short Retry-After does not make a retry sooner than the schedule's.
    const third = receiver(() => new Response("", { status: 429, headers: { "Retry-After": "1" } }));
    const three = await run((two.next as QueuedTask).task, { send: third.send, now: T0 + 10_800_000 });
    expect(three.next?.delaySeconds).toBe(1800);
  });

  it("disables the endpoint on a 410 and emits webhook.endpoint_disabled; its other messages then fail unsent", async () => {
    const { admin, tenant, endpoint, publish } = await setup();
    const a = await publish();
    const b = await publish();
    const gone = receiver(() => new Response("gone", { status: 410 }));
    expect((await run(a.tasks[0] as DeliveryTask, { send: gone.send })).result).toBe("failed");
    expect(await endpointOf(endpoint.id)).toMatchObject({ enabled: false, disabledReason: "gone" });
    const other = receiver(() => new Response("ok"));
    expect((await run(b.tasks[0] as DeliveryTask, { send: other.send })).result).toBe("endpoint-disabled");
    expect(other.received).toHaveLength(0);
    expect((await messageOf((b.tasks[0] as DeliveryTask).message_id)).status).toBe("failed");
    await settled(tenant.id);
    const key = (await tenantKey(admin, tenant.id)).secret;
    const events = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key });
    const disabled = events.json.data.filter((e: { type: string }) => e.type === "webhook.endpoint_disabled");
    expect(disabled).toHaveLength(1);
    expect(disabled[0].subject).toEqual({ type: "webhook", id: endpoint.id });
    expect(disabled[0].data).toMatchObject({ id: endpoint.id, enabled: false, disabled_reason: "gone" });
    // Its secret is no part of the event.
    expect(JSON.stringify(disabled[0].data)).not.toContain("secret");
  });

  it("disables an endpoint that failed every attempt for 5 days, and not one that succeeded meanwhile", async () => {
    const { admin, tenant, endpoint, publish } = await setup();
    const failing = receiver(() => new Response("", { status: 500 }));
    const ok = receiver(() => new Response(null, { status: 204 }));
    const attemptAt = async (at: number, send: Send) => {
      const { tasks } = await publish();
      return run(tasks[0] as DeliveryTask, { send, now: at });
    };
    await attemptAt(T0, failing.send);
    expect((await endpointOf(endpoint.id)).failingSince).toBe(T0);
    // A success resets the count; failing again starts it over.
    await attemptAt(T0 + 3 * 86_400_000, ok.send);
    expect((await endpointOf(endpoint.id)).failingSince).toBeNull();
    const restart = T0 + 3 * 86_400_000 + 1000;
    await attemptAt(restart, failing.send);
    await attemptAt(restart + FAILING_DISABLES_AFTER_MS - 1, failing.send);
    expect(await endpointOf(endpoint.id)).toMatchObject({ enabled: true, failingSince: restart });
    // The circuit opened long ago; let the next call through as its probe would be, a minute later.
    await db.update(webhookEndpoints).set({ circuit: null }).where(eq(webhookEndpoints.id, endpoint.id));
    await attemptAt(restart + FAILING_DISABLES_AFTER_MS, failing.send);
    expect(await endpointOf(endpoint.id)).toMatchObject({ enabled: false, disabledReason: "failing" });
    await settled(tenant.id);
    const key = (await tenantKey(admin, tenant.id)).secret;
    const events = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key });
    const disabled = events.json.data.filter((e: { type: string }) => e.type === "webhook.endpoint_disabled");
    expect(disabled.map((e: { data: { disabled_reason: string } }) => e.data.disabled_reason)).toEqual(["failing"]);
  });

  it("opens the endpoint's circuit after repeated failures: its messages wait unsent, other endpoints go on", async () => {
    const { tenant, endpoint, publish } = await setup(["entry.*"]);
    const { endpoint: healthy } = await createEndpoint(env, db, tenant.id, {
      url: "https://healthy.example.com/",
      events: ["user.*"],
    });
    const dead = receiver(() => new Response("", { status: 503 }));
    for (let i = 0; i < 5; i++) {
      const { tasks } = await publish();
      expect((await run(tasks[0] as DeliveryTask, { send: dead.send, now: T0 + i })).result).toBe("retrying");
    }
    expect((await endpointOf(endpoint.id)).circuit?.state).toBe("open");
    const { tasks } = await publish();
    const waiting = tasks[0] as DeliveryTask;
    const deferred = await run(waiting, { send: dead.send, now: T0 + 10 });
    expect(deferred.result).toBe("deferred");
    expect(dead.received).toHaveLength(5);
    // Not an attempt: the same attempt asks again once the circuit lets a probe through.
    expect(deferred.next?.task).toEqual(waiting);
    expect(deferred.next?.delaySeconds).toBeGreaterThanOrEqual(60);
    expect(await messageOf(waiting.message_id)).toMatchObject({ attempts: 0, status: "pending" });
    // The tenant's other endpoint is not held up.
    const user = await publish("user.created");
    const fine = receiver(() => new Response("ok"));
    expect((await run(user.tasks[0] as DeliveryTask, { send: fine.send, now: T0 + 20 })).result).toBe("delivered");
    expect(user.tasks[0]?.message_id).not.toBe(waiting.message_id);
    expect((await messageOf(user.tasks[0]?.message_id as string)).endpointId).toBe(healthy.id);
    // After the open minute one probe goes; its success closes the circuit.
    const back = receiver(() => new Response("ok"));
    expect((await run(waiting, { send: back.send, now: T0 + 61_000 })).result).toBe("delivered");
    expect((await endpointOf(endpoint.id)).circuit?.state).toBe("closed");
  });

  it("signs with both secrets for 24 h after a rotation, then with the new one alone", async () => {
    const { tenant, endpoint, secret: old, publish } = await setup();
    const { secret: rotated } = await rotateSecret(env, db, tenant.id, endpoint.id);
    expect(rotated).not.toBe(old);
    const during = await publish();
    const { send, received } = receiver(() => new Response("ok"));
    await run(during.tasks[0] as DeliveryTask, { send });
    const got = received[0] as Received;
    expect(got.headers["webhook-signature"]?.split(" ")).toHaveLength(2);
    // A receiver holding either secret verifies it.
    expect(new Webhook(old).verify(got.body, got.headers)).toEqual(during.body);
    expect(new Webhook(rotated).verify(got.body, got.headers)).toEqual(during.body);
    const after = await publish();
    const later = Date.now() + ROTATION_OVERLAP_MS + 1000;
    await run(after.tasks[0] as DeliveryTask, { send, now: later });
    const last = received[1] as Received;
    const ts = Number(last.headers["webhook-timestamp"]);
    expect(ts).toBe(Math.floor(later / 1000));
    // One signature, the new secret's (the library signs as a receiver would check).
    const id = last.headers["webhook-id"] as string;
    expect(last.headers["webhook-signature"]).toBe(new Webhook(rotated).sign(id, new Date(ts * 1000), last.body));
    expect(last.headers["webhook-signature"]).not.toContain(new Webhook(old).sign(id, new Date(ts * 1000), last.body));
  });

  it("fails an attempt whose sealed secret does not open (sealed for another endpoint, or under another PLATFORM_SECRET) until a rotation", async () => {
    const { tenant, endpoint, publish } = await setup();
    // A sealed secret is bound to its endpoint's id: copied onto this one, it does not open.
    const other = await createEndpoint(env, db, tenant.id, { url: "https://other.example.com/", events: ["user.*"] });
    await db
      .update(webhookEndpoints)
      .set({ secret: other.endpoint.secret })
      .where(eq(webhookEndpoints.id, endpoint.id));
    const { send, received } = receiver(() => new Response("ok"));
    const first = await publish();
    expect((await run(first.tasks[0] as DeliveryTask, { send })).result).toBe("retrying");
    expect(received).toHaveLength(0);
    const [attempt] = await attemptsOf((first.tasks[0] as DeliveryTask).message_id);
    expect(attempt?.error).toContain("secret cannot be opened");
    const { secret } = await rotateSecret(env, db, tenant.id, endpoint.id);
    const second = await publish();
    expect((await run(second.tasks[0] as DeliveryTask, { send })).result).toBe("delivered");
    // Signed with the new secret alone: the unreadable one before it signs nothing.
    const got = received[0] as Received;
    expect(got.headers["webhook-signature"]?.split(" ")).toHaveLength(1);
    expect(new Webhook(secret).verify(got.body, got.headers)).toEqual(second.body);
  });

  it("queues again a message whose attempt was lost, through the real queue (the minute sweep)", async () => {
    // A loopback port nothing listens on (the tests' allow-list admits it): refused at once.
    const { publish } = await setup(["*"], "http://127.0.0.1:9/hook");
    // Fanned out, but its queue message never sent.
    const { tasks } = await publish();
    const id = (tasks[0] as DeliveryTask).message_id;
    await db
      .update(webhookMessages)
      .set({ nextAttemptAt: Date.now() - 5 * 60_000 })
      .where(eq(webhookMessages.id, id));
    expect(await sweepWebhooks(env, db)).toBeGreaterThanOrEqual(1);
    // The real consumer makes the attempt.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const attempts = await attemptsOf(id);
      if (attempts.length > 0) {
        expect(attempts[0]).toMatchObject({ attempt: 1, statusCode: null });
        expect(attempts[0]?.error).toBeTruthy();
        break;
      }
      if (Date.now() > deadline) throw new Error("the swept message was never attempted");
      await scheduler.wait(50);
    }
    // Due again on the schedule now, so the sweep leaves it alone.
    expect((await messageOf(id)).status).toBe("pending");
  });
});
