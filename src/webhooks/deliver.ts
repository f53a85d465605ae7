import { and, eq, lt, type SQL, sql } from "drizzle-orm";
import { z } from "zod";
import { type ControlDb, controlDb } from "../db/client";
import { errorText } from "../db/errors";
import { systemOrigin } from "../events/listeners";
import { nudgeRelay } from "../events/nudge";
import { outboxEvent } from "../events/outbox";
import { CircuitBreaker, type CircuitConfig } from "../gate/circuit-breaker";
import { newId } from "../http/ids";
import { tenantWebhookEndpoints } from "./dataset";
import {
  ATTEMPT_TIMEOUT_MS,
  delayBefore,
  FAILING_DISABLES_AFTER_MS,
  MAX_DELAY_SECONDS,
  retryAfterSeconds,
} from "./schedule";
import { openSecret, signatureHeader } from "./signing";
import { refusedTarget, targetPolicy } from "./ssrf";
import {
  type AttemptTrigger,
  type DisabledReason,
  type WebhookEndpoint,
  type WebhookMessage,
  webhookAttempts,
  webhookEndpoints,
  webhookMessages,
} from "./table";

// Delivery: one queue message per attempt. The consumer claims the attempt on the message's row
// (attempts = n - 1 → n), so a duplicate or stale queue message does nothing; it records the
// attempt, then either marks the message delivered or failed, or queues the next attempt with
// the schedule's delay. A crash between the two leaves the message pending and overdue, which
// the minute sweep queues again.

/** A queued attempt: the `attempt`th of the message (1-based, counting every run). */
export const DeliveryTask = z.object({
  message_id: z.string(),
  tenant_id: z.string(),
  attempt: z.number().int().positive(),
  trigger: z.enum(["scheduled", "replay", "recover", "test"]),
});
export type DeliveryTask = z.infer<typeof DeliveryTask>;

/** How long a claimed attempt may take before the sweep takes it for lost (its timeout and more). */
const CLAIM_MS = ATTEMPT_TIMEOUT_MS + 60_000;
/** The response body kept per attempt. */
const RESPONSE_BYTES = 1024;
const USER_AGENT = "edge-tenancy-webhooks/1";

/**
 * Each endpoint's circuit breaker (the gate's): a dead endpoint's messages wait while it is open
 * instead of each spending up to 15 s of the consumer on it, and one probe at a time tries it again.
 */
export const ENDPOINT_CIRCUIT: CircuitConfig = {
  windowSize: 20,
  failureRateThreshold: 0.5,
  minimumCalls: 5,
  openMs: 60_000,
  halfOpenProbes: 1,
  probeTimeoutMs: CLAIM_MS,
};

/** The endpoint's circuit as last saved (a new endpoint's is closed). */
const breakerOf = (endpoint: WebhookEndpoint) =>
  endpoint.circuit ? CircuitBreaker.restore(endpoint.circuit, ENDPOINT_CIRCUIT) : new CircuitBreaker(ENDPOINT_CIRCUIT);

/** The HTTP exchange; tests pass a receiver of their own, the Worker uses fetch. */
export type Send = (request: Request) => Promise<Response>;

/** Queues attempts; tests pass their own to see what would be queued, and when. */
export type Enqueue = (tasks: QueuedTask[]) => Promise<void>;
export type QueuedTask = { task: DeliveryTask; delaySeconds: number };

export type DeliverOptions = {
  now?: number;
  random?: () => number;
  send?: Send;
  timeoutMs?: number;
  enqueue?: Enqueue;
};

export const queueTasks = async (env: Env, tasks: QueuedTask[]) => {
  for (let i = 0; i < tasks.length; i += 100) {
    await env.WEBHOOKS_QUEUE.sendBatch(
      tasks.slice(i, i + 100).map(({ task, delaySeconds }) => ({
        body: task,
        contentType: "json" as const,
        delaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.round(delaySeconds))),
      })),
    );
  }
};

/** The first bytes of a response as text, without reading the rest of it. */
async function responseStart(response: Response): Promise<string> {
  if (!response.body) return "";
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < RESPONSE_BYTES) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.byteLength;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  const bytes = new Uint8Array(Math.min(size, RESPONSE_BYTES));
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk.subarray(0, bytes.length - at), at);
    at += chunk.byteLength;
    if (at >= bytes.length) break;
  }
  return new TextDecoder().decode(bytes);
}

/** Sealed under another PLATFORM_SECRET than this Worker's (it was changed): rotate the endpoint's secret. */
class SecretUnreadable extends Error {}

/**
 * The secrets signing now: the current one, and the one before while its 24 h last (left out if
 * it was sealed under a PLATFORM_SECRET since changed, which is why the endpoint was rotated).
 */
export async function signingSecrets(env: Env, endpoint: WebhookEndpoint, now: number): Promise<string[]> {
  const current = await openSecret(env, endpoint.id, endpoint.secret).catch(() => {
    throw new SecretUnreadable("the endpoint's secret cannot be opened (PLATFORM_SECRET changed?): rotate it");
  });
  const secrets = [current];
  if (endpoint.previousSecret !== null && endpoint.previousUntil !== null && endpoint.previousUntil > now) {
    const previous = await openSecret(env, endpoint.id, endpoint.previousSecret).catch(() => null);
    if (previous !== null) secrets.push(previous);
  }
  return secrets;
}

type Outcome = {
  statusCode: number | null;
  durationMs: number;
  response: string | null;
  error: string | null;
  retryAfter: number | null;
};

/** One signed POST of the message; never throws (a failure is an outcome). */
async function attempt(
  env: Env,
  endpoint: WebhookEndpoint,
  message: WebhookMessage,
  now: number,
  send: Send,
  timeoutMs: number,
): Promise<Outcome> {
  const refused = refusedTarget(endpoint.url, targetPolicy(env));
  if (refused !== null) {
    return { statusCode: null, durationMs: 0, response: null, error: `target refused: ${refused}`, retryAfter: null };
  }
  const timestamp = Math.floor(now / 1000);
  let secrets: string[];
  try {
    secrets = await signingSecrets(env, endpoint, now);
  } catch (error) {
    if (!(error instanceof SecretUnreadable)) throw error;
    return { statusCode: null, durationMs: 0, response: null, error: error.message, retryAfter: null };
  }
  const signature = await signatureHeader(secrets, message.eventId, timestamp, message.payload);
  const started = Date.now();
  try {
    const response = await send(
      new Request(endpoint.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "user-agent": USER_AGENT,
          "webhook-id": message.eventId,
          "webhook-timestamp": String(timestamp),
          "webhook-signature": signature,
        },
        body: message.payload,
        // A redirect is a failure, never followed: it could point anywhere the guard refuses.
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
    const text = await responseStart(response);
    const ok = response.status >= 200 && response.status < 300;
    return {
      statusCode: response.status,
      durationMs: Date.now() - started,
      response: text,
      error: ok ? null : response.status >= 300 && response.status < 400 ? "redirects are not followed" : null,
      retryAfter:
        response.status === 429 || response.status === 503
          ? retryAfterSeconds(response.headers.get("retry-after"), Date.now())
          : null,
    };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    return {
      statusCode: null,
      durationMs: Date.now() - started,
      response: null,
      error: timedOut ? `no answer within ${timeoutMs / 1000} s` : errorText(error),
      retryAfter: null,
    };
  }
}

const ENDPOINT_WRITE_TRIES = 8;

/**
 * Records an outcome on the endpoint: its circuit, since when it has failed, and whether it is now
 * disabled (a 410, or failing for 5 days), with `webhook.endpoint_disabled` in the same batch.
 * Conditional on the version read, retried when a concurrent delivery wrote first.
 */
async function recordOnEndpoint(
  env: Env,
  db: ControlDb,
  endpointId: string,
  now: number,
  failed: boolean | null,
  probe: string | null,
  gone: boolean,
): Promise<void> {
  for (let i = 0; i < ENDPOINT_WRITE_TRIES; i++) {
    const endpoint = await db.query.webhookEndpoints.findFirst({ where: eq(webhookEndpoints.id, endpointId) });
    if (!endpoint) return;
    const breaker = breakerOf(endpoint);
    breaker.record(now, failed, probe);
    const failingSince =
      failed === true ? (endpoint.failingSince ?? now) : failed === false ? null : endpoint.failingSince;
    const disable: DisabledReason | null = !endpoint.enabled
      ? null
      : gone
        ? "gone"
        : failingSince !== null && now - failingSince >= FAILING_DISABLES_AFTER_MS
          ? "failing"
          : null;
    const where = and(eq(webhookEndpoints.id, endpointId), eq(webhookEndpoints.version, endpoint.version));
    const update = db
      .update(webhookEndpoints)
      .set({
        circuit: breaker.snapshot(),
        failingSince,
        version: endpoint.version + 1,
        ...(disable === null ? {} : { enabled: false, disabledReason: disable, updatedAt: now }),
      })
      .where(where)
      .returning({ id: webhookEndpoints.id });
    const [written] =
      disable === null
        ? [await update]
        : await db.batch([
            update,
            outboxEvent(
              db,
              { origin: systemOrigin("webhooks") },
              {
                type: "webhook.endpoint_disabled",
                tenantId: endpoint.tenantId,
                subject: "webhook",
                dataset: tenantWebhookEndpoints,
                // The row as the update left it: the version it wrote says the update took.
                where: and(
                  eq(webhookEndpoints.id, endpointId),
                  eq(webhookEndpoints.version, endpoint.version + 1),
                  eq(webhookEndpoints.enabled, false),
                ) as SQL,
              },
              now,
            ),
          ]);
    if (written.length > 0) {
      // The event goes out now rather than with the relay's next sweep.
      if (disable !== null) await nudgeRelay(env, db, endpoint.tenantId);
      return;
    }
  }
  console.warn(
    JSON.stringify({ level: "warn", msg: "webhook endpoint outcome not recorded", endpoint_id: endpointId }),
  );
}

/** Takes a circuit's permission for one call, saving a probe it hands out. */
async function permitOnEndpoint(db: ControlDb, endpoint: WebhookEndpoint, now: number) {
  const breaker = breakerOf(endpoint);
  const permit = breaker.permit(now);
  if (!permit.permitted || permit.probe === null) return permit;
  const [saved] = await db
    .update(webhookEndpoints)
    .set({ circuit: breaker.snapshot(), version: endpoint.version + 1 })
    .where(and(eq(webhookEndpoints.id, endpoint.id), eq(webhookEndpoints.version, endpoint.version)))
    .returning({ id: webhookEndpoints.id });
  // Another delivery took the probe (or wrote first): wait like a refusal, briefly.
  return saved ? permit : ({ permitted: false, retryAfterMs: 1_000 } as const);
}

export type DeliveryResult = "skipped" | "endpoint-disabled" | "deferred" | "delivered" | "retrying" | "failed";

/** Runs the queued attempt `task`; returns what became of the message. */
export async function deliverTask(
  env: Env,
  db: ControlDb,
  task: DeliveryTask,
  options: DeliverOptions = {},
): Promise<DeliveryResult> {
  const now = options.now ?? Date.now();
  const random = options.random ?? Math.random;
  const enqueue = options.enqueue ?? ((tasks: QueuedTask[]) => queueTasks(env, tasks));
  const message = await db.query.webhookMessages.findFirst({
    where: and(eq(webhookMessages.id, task.message_id), eq(webhookMessages.tenantId, task.tenant_id)),
  });
  // Gone (its endpoint deleted), done, or this queue message is a duplicate of an attempt made.
  if (message?.status !== "pending" || message.attempts !== task.attempt - 1) return "skipped";
  const endpoint = await db.query.webhookEndpoints.findFirst({ where: eq(webhookEndpoints.id, message.endpointId) });
  if (!endpoint?.enabled) {
    await db
      .update(webhookMessages)
      .set({ status: "failed", nextAttemptAt: null, updatedAt: now })
      .where(and(eq(webhookMessages.id, message.id), eq(webhookMessages.status, "pending")));
    return "endpoint-disabled";
  }
  const permit = await permitOnEndpoint(db, endpoint, now);
  if (!permit.permitted) {
    // Not an attempt: the message keeps its place in the schedule and asks again once the circuit
    // lets a probe through, spread over a few seconds so the waiting messages do not all return at once.
    const delaySeconds = permit.retryAfterMs / 1000 + 1 + random() * 10;
    const [moved] = await db
      .update(webhookMessages)
      .set({ nextAttemptAt: now + delaySeconds * 1000, updatedAt: now })
      .where(and(eq(webhookMessages.id, message.id), eq(webhookMessages.attempts, message.attempts)))
      .returning({ id: webhookMessages.id });
    if (moved) await enqueue([{ task, delaySeconds }]);
    return "deferred";
  }
  const [claimed] = await db
    .update(webhookMessages)
    .set({
      attempts: task.attempt,
      step: sql`${webhookMessages.step} + 1`,
      nextAttemptAt: now + CLAIM_MS,
      updatedAt: now,
    })
    .where(
      and(
        eq(webhookMessages.id, message.id),
        eq(webhookMessages.status, "pending"),
        eq(webhookMessages.attempts, task.attempt - 1),
      ),
    )
    .returning();
  if (!claimed) {
    await recordOnEndpoint(env, db, endpoint.id, now, null, permit.probe, false);
    return "skipped";
  }
  const outcome = await attempt(
    env,
    endpoint,
    claimed,
    now,
    options.send ?? fetch,
    options.timeoutMs ?? ATTEMPT_TIMEOUT_MS,
  );
  const ok = outcome.statusCode !== null && outcome.statusCode >= 200 && outcome.statusCode < 300;
  const gone = outcome.statusCode === 410;
  const done = Date.now();
  const delay = ok || gone ? null : delayBefore(claimed.step, random(), outcome.retryAfter);
  const result: DeliveryResult = ok ? "delivered" : delay === null ? "failed" : "retrying";
  await db.batch([
    db.insert(webhookAttempts).values({
      id: newId("atm"),
      tenantId: message.tenantId,
      messageId: message.id,
      endpointId: endpoint.id,
      attempt: task.attempt,
      trigger: task.trigger as AttemptTrigger,
      url: endpoint.url,
      statusCode: outcome.statusCode,
      durationMs: outcome.durationMs,
      response: outcome.response,
      error: outcome.error,
      startedAt: now,
    }),
    db
      .update(webhookMessages)
      .set({
        status: result === "retrying" ? "pending" : result,
        lastStatusCode: outcome.statusCode,
        nextAttemptAt: delay === null ? null : now + delay * 1000,
        deliveredAt: ok ? done : null,
        updatedAt: done,
      })
      .where(and(eq(webhookMessages.id, message.id), eq(webhookMessages.attempts, task.attempt))),
  ]);
  await recordOnEndpoint(env, db, endpoint.id, now, !ok, permit.probe, gone);
  if (delay !== null) {
    await enqueue([{ task: { ...task, attempt: task.attempt + 1, trigger: "scheduled" }, delaySeconds: delay }]);
  }
  return result;
}

/**
 * A Worker invocation has at most six connections open at once; a seventh fetch waits for one to
 * close. The batch's attempts run six at a time, so none spends its 15 s waiting for a slot.
 */
const PARALLEL_ATTEMPTS = 6;

/** The webhooks queue's handler: six attempts of the batch at a time, each acknowledged on its own. */
export async function consumeWebhooks(batch: MessageBatch, env: Env): Promise<void> {
  const db = controlDb(env);
  const waiting = [...batch.messages];
  const lane = async () => {
    for (let message = waiting.shift(); message !== undefined; message = waiting.shift())
      await consumeOne(env, db, message);
  };
  await Promise.all(Array.from({ length: PARALLEL_ATTEMPTS }, lane));
}

async function consumeOne(env: Env, db: ControlDb, message: Message): Promise<void> {
  const parsed = DeliveryTask.safeParse(message.body);
  if (!parsed.success) {
    console.warn(JSON.stringify({ level: "warn", msg: "webhooks queue message is not a delivery", id: message.id }));
    message.ack();
    return;
  }
  try {
    await deliverTask(env, db, parsed.data);
    message.ack();
  } catch (error) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "webhook delivery failed to record",
        message_id: parsed.data.message_id,
        error: errorText(error),
      }),
    );
    message.retry();
  }
}

/** A pending message this far past its due time lost its queue message (or its consumer died). */
const OVERDUE_MS = 2 * 60_000;
const SWEEP_PAGE = 500;

/** Queues again every pending message long overdue; run by the minute cron. Returns how many. */
export async function sweepWebhooks(env: Env, db: ControlDb, now = Date.now()): Promise<number> {
  const overdue = await db
    .select({ id: webhookMessages.id, tenantId: webhookMessages.tenantId, attempts: webhookMessages.attempts })
    .from(webhookMessages)
    .where(and(eq(webhookMessages.status, "pending"), lt(webhookMessages.nextAttemptAt, now - OVERDUE_MS)))
    .limit(SWEEP_PAGE);
  if (overdue.length === 0) return 0;
  // Due again later, so the next sweep leaves them to the messages queued now.
  await db.batch(
    overdue.map((row) =>
      db
        .update(webhookMessages)
        .set({ nextAttemptAt: now })
        .where(and(eq(webhookMessages.id, row.id), eq(webhookMessages.attempts, row.attempts))),
    ) as [never, ...never[]],
  );
  await queueTasks(
    env,
    overdue.map((row) => ({
      task: { message_id: row.id, tenant_id: row.tenantId, attempt: row.attempts + 1, trigger: "scheduled" as const },
      delaySeconds: 0,
    })),
  );
  return overdue.length;
}
