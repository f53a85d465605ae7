import { and, asc, eq, gt, gte, inArray, ne, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import type { Emit } from "../events/domain";
import { newId } from "../http/ids";
import { AppError, notFound } from "../http/problems";
import { type DeliveryTask, queueTasks } from "./deliver";
import { TEST_EVENT_TYPE } from "./model";
import { newSecret, sealSecret, secretProblem } from "./signing";
import { refusedTarget, targetPolicy } from "./ssrf";
import {
  type AttemptTrigger,
  type WebhookAttempt,
  type WebhookEndpoint,
  type WebhookMessage,
  webhookAttempts,
  webhookEndpoints,
  webhookMessages,
} from "./table";

/** A rotated-out secret keeps signing beside the new one this long, so receivers can switch over. */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;
/** Endpoints per tenant. */
export const MAX_ENDPOINTS = 20;
/** Messages a recover queues per call; the answer says whether more remain. */
const RECOVER_PAGE = 500;

export type EndpointFields = {
  url: string;
  events: string[];
  description?: string | null;
  enabled?: boolean;
  secret?: string;
};

const badSecret = (why: string) =>
  new AppError("validation-error", `secret ${why}`, {
    extensions: { errors: [{ path: "secret", message: why }] },
  });

function checkTarget(env: Env, url: string) {
  const refused = refusedTarget(url, targetPolicy(env));
  if (refused !== null) throw new AppError("webhook-target-refused", `${url} cannot receive webhooks: ${refused}`);
}

const endpointWhere = (tenantId: string, endpointId: string) =>
  and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.id, endpointId));

export async function getEndpoint(db: ControlDb, tenantId: string, endpointId: string): Promise<WebhookEndpoint> {
  const endpoint = await db.query.webhookEndpoints.findFirst({ where: endpointWhere(tenantId, endpointId) });
  if (!endpoint) throw notFound("Webhook endpoint");
  return endpoint;
}

export async function listEndpoints(db: ControlDb, tenantId: string): Promise<WebhookEndpoint[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.tenantId, tenantId))
    .orderBy(asc(webhookEndpoints.id));
}

/** Creates an endpoint; returns it with its secret, which no later answer shows again. */
export async function createEndpoint(
  env: Env,
  db: ControlDb,
  tenantId: string,
  fields: EndpointFields,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  checkTarget(env, fields.url);
  const secret = fields.secret ?? newSecret();
  const why = secretProblem(secret);
  if (why !== null) throw badSecret(why);
  const id = newId("whk");
  const now = Date.now();
  const [count] = await db
    .select({ n: sql<number>`count(*)` })
    .from(webhookEndpoints)
    .where(eq(webhookEndpoints.tenantId, tenantId));
  if ((count?.n ?? 0) >= MAX_ENDPOINTS) {
    throw new AppError("conflict", `a tenant has at most ${MAX_ENDPOINTS} webhook endpoints; delete one first`);
  }
  const [endpoint] = await db
    .insert(webhookEndpoints)
    .values({
      id,
      tenantId,
      url: fields.url,
      events: fields.events,
      description: fields.description ?? null,
      enabled: fields.enabled ?? true,
      disabledReason: fields.enabled === false ? "manual" : null,
      secret: await sealSecret(env, id, secret),
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  return { endpoint: endpoint as WebhookEndpoint, secret };
}

/** Changes an endpoint; enabling it again clears why it was disabled, its failures and its circuit. */
export async function updateEndpoint(
  env: Env,
  db: ControlDb,
  tenantId: string,
  endpointId: string,
  fields: Partial<Omit<EndpointFields, "secret">>,
): Promise<WebhookEndpoint> {
  const current = await getEndpoint(db, tenantId, endpointId);
  if (fields.url !== undefined) checkTarget(env, fields.url);
  const enabling = fields.enabled === true && !current.enabled;
  const [updated] = await db
    .update(webhookEndpoints)
    .set({
      ...(fields.url === undefined ? {} : { url: fields.url }),
      ...(fields.events === undefined ? {} : { events: fields.events }),
      ...(fields.description === undefined ? {} : { description: fields.description }),
      ...(fields.enabled === undefined ? {} : { enabled: fields.enabled }),
      ...(fields.enabled === false && current.enabled ? { disabledReason: "manual" as const } : {}),
      ...(enabling ? { disabledReason: null, failingSince: null, circuit: null } : {}),
      version: sql`${webhookEndpoints.version} + 1`,
      updatedAt: Date.now(),
    })
    .where(endpointWhere(tenantId, endpointId))
    .returning();
  if (!updated) throw notFound("Webhook endpoint");
  return updated;
}

/** Deletes an endpoint with its messages and their attempts; queued attempts then find nothing. */
export async function deleteEndpoint(db: ControlDb, tenantId: string, endpointId: string): Promise<void> {
  const [, , removed] = await db.batch([
    db
      .delete(webhookAttempts)
      .where(and(eq(webhookAttempts.tenantId, tenantId), eq(webhookAttempts.endpointId, endpointId))),
    db
      .delete(webhookMessages)
      .where(and(eq(webhookMessages.tenantId, tenantId), eq(webhookMessages.endpointId, endpointId))),
    db.delete(webhookEndpoints).where(endpointWhere(tenantId, endpointId)).returning({ id: webhookEndpoints.id }),
  ]);
  if (removed.length === 0) throw notFound("Webhook endpoint");
}

/**
 * A new secret (given, or generated); the one before keeps signing beside it for 24 h. A second
 * rotation within the 24 h drops the oldest: two secrets sign at most.
 */
export async function rotateSecret(
  env: Env,
  db: ControlDb,
  tenantId: string,
  endpointId: string,
  given?: string,
): Promise<{ endpoint: WebhookEndpoint; secret: string }> {
  const current = await getEndpoint(db, tenantId, endpointId);
  const secret = given ?? newSecret();
  const why = secretProblem(secret);
  if (why !== null) throw badSecret(why);
  const now = Date.now();
  const [endpoint] = await db
    .update(webhookEndpoints)
    .set({
      secret: await sealSecret(env, endpointId, secret),
      previousSecret: current.secret,
      previousUntil: now + ROTATION_OVERLAP_MS,
      version: sql`${webhookEndpoints.version} + 1`,
      updatedAt: now,
    })
    .where(and(endpointWhere(tenantId, endpointId), eq(webhookEndpoints.version, current.version)))
    .returning();
  if (!endpoint) throw new AppError("conflict", "the endpoint changed meanwhile; rotate again");
  return { endpoint, secret };
}

const messageWhere = (tenantId: string, endpointId: string, messageId: string) =>
  and(
    eq(webhookMessages.tenantId, tenantId),
    eq(webhookMessages.endpointId, endpointId),
    eq(webhookMessages.id, messageId),
  );

export async function listMessages(
  db: ControlDb,
  tenantId: string,
  endpointId: string,
  options: { limit: number; after?: string; status?: WebhookMessage["status"] },
): Promise<{ items: WebhookMessage[]; more: boolean }> {
  await getEndpoint(db, tenantId, endpointId);
  const rows = await db
    .select()
    .from(webhookMessages)
    .where(
      and(
        eq(webhookMessages.tenantId, tenantId),
        eq(webhookMessages.endpointId, endpointId),
        options.after === undefined ? undefined : gt(webhookMessages.id, options.after),
        options.status === undefined ? undefined : eq(webhookMessages.status, options.status),
      ),
    )
    .orderBy(asc(webhookMessages.id))
    .limit(options.limit + 1);
  return { items: rows.slice(0, options.limit), more: rows.length > options.limit };
}

export async function getMessage(
  db: ControlDb,
  tenantId: string,
  endpointId: string,
  messageId: string,
): Promise<WebhookMessage> {
  const message = await db.query.webhookMessages.findFirst({ where: messageWhere(tenantId, endpointId, messageId) });
  if (!message) throw notFound("Webhook message");
  return message;
}

export async function listAttempts(
  db: ControlDb,
  tenantId: string,
  endpointId: string,
  messageId: string,
): Promise<WebhookAttempt[]> {
  await getMessage(db, tenantId, endpointId, messageId);
  return db
    .select()
    .from(webhookAttempts)
    .where(and(eq(webhookAttempts.tenantId, tenantId), eq(webhookAttempts.messageId, messageId)))
    .orderBy(asc(webhookAttempts.attempt));
}

async function enabledEndpoint(db: ControlDb, tenantId: string, endpointId: string) {
  const endpoint = await getEndpoint(db, tenantId, endpointId);
  if (!endpoint.enabled)
    throw new AppError("conflict", "the endpoint is disabled; enable it first (PATCH enabled: true)");
  return endpoint;
}

/** Starts a new run of the schedule for messages not pending now; returns those it started. */
async function rearm(
  env: Env,
  db: ControlDb,
  tenantId: string,
  ids: readonly string[],
  trigger: AttemptTrigger,
): Promise<number> {
  if (ids.length === 0) return 0;
  const now = Date.now();
  const started = await db
    .update(webhookMessages)
    .set({ status: "pending", step: 0, nextAttemptAt: now, deliveredAt: null, updatedAt: now })
    .where(
      and(
        eq(webhookMessages.tenantId, tenantId),
        inArray(webhookMessages.id, [...ids]),
        ne(webhookMessages.status, "pending"),
      ),
    )
    .returning({ id: webhookMessages.id, attempts: webhookMessages.attempts });
  await queueTasks(
    env,
    started.map((row) => ({
      task: { message_id: row.id, tenant_id: tenantId, attempt: row.attempts + 1, trigger } satisfies DeliveryTask,
      delaySeconds: 0,
    })),
  );
  return started.length;
}

/** Sends a delivered or failed message again now, with the schedule's retries if it fails. */
export async function replayMessage(
  env: Env,
  db: ControlDb,
  tenantId: string,
  endpointId: string,
  messageId: string,
): Promise<WebhookMessage> {
  await enabledEndpoint(db, tenantId, endpointId);
  const message = await getMessage(db, tenantId, endpointId, messageId);
  if ((await rearm(env, db, tenantId, [message.id], "replay")) === 0) {
    throw new AppError("conflict", "the message is being delivered already");
  }
  return getMessage(db, tenantId, endpointId, messageId);
}

/** Sends again every failed message of the endpoint created at or after `since`. */
export async function recoverMessages(
  env: Env,
  db: ControlDb,
  tenantId: string,
  endpointId: string,
  since: number,
): Promise<{ recovering: number; more: boolean }> {
  await enabledEndpoint(db, tenantId, endpointId);
  const failed = await db
    .select({ id: webhookMessages.id })
    .from(webhookMessages)
    .where(
      and(
        eq(webhookMessages.tenantId, tenantId),
        eq(webhookMessages.endpointId, endpointId),
        eq(webhookMessages.status, "failed"),
        gte(webhookMessages.createdAt, since),
      ),
    )
    .orderBy(asc(webhookMessages.id))
    .limit(RECOVER_PAGE + 1);
  const ids = failed.slice(0, RECOVER_PAGE).map((row) => row.id);
  let recovering = 0;
  for (let i = 0; i < ids.length; i += 90)
    recovering += await rearm(env, db, tenantId, ids.slice(i, i + 90), "recover");
  return { recovering, more: failed.length > RECOVER_PAGE };
}

/** Sends the endpoint a `webhook.test` event, to it alone (the feed does not carry it). */
export async function sendTestEvent(
  env: Env,
  db: ControlDb,
  emit: Emit,
  tenantId: string,
  endpointId: string,
): Promise<WebhookMessage> {
  await enabledEndpoint(db, tenantId, endpointId);
  const now = Date.now();
  const eventId = `evt_test_${newId("msg").slice(4)}`;
  const body = {
    id: eventId,
    tenant_id: tenantId,
    seq: null,
    type: TEST_EVENT_TYPE,
    subject: { type: "webhook", id: endpointId },
    data: { endpoint_id: endpointId },
    occurred_at: new Date(now).toISOString(),
    request_id: emit.origin.requestId,
    actor: emit.origin.actor,
  };
  const [message] = await db
    .insert(webhookMessages)
    .values({
      id: newId("msg"),
      tenantId,
      endpointId,
      eventId,
      eventType: TEST_EVENT_TYPE,
      payload: JSON.stringify(body),
      status: "pending",
      nextAttemptAt: now,
      createdAt: now,
      updatedAt: now,
    })
    .returning();
  const created = message as WebhookMessage;
  await queueTasks(env, [
    { task: { message_id: created.id, tenant_id: tenantId, attempt: 1, trigger: "test" }, delaySeconds: 0 },
  ]);
  return created;
}
