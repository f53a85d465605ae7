import { env } from "cloudflare:workers";
import { controlDb } from "../../src/db/client";
import { newId } from "../../src/http/ids";
import { newSecret, sealSecret } from "../../src/webhooks/signing";
import { webhookAttempts, webhookEndpoints, webhookMessages } from "../../src/webhooks/table";

/**
 * A webhook endpoint of the tenant with one message and its attempt, as delivery writes them. The
 * endpoint is disabled, so no event of the tenant's fans out to it and nothing changes the rows
 * while a test counts them.
 */
export async function storedWebhookRows(tenantId: string) {
  const db = controlDb(env);
  const endpointId = newId("whk");
  const messageId = newId("msg");
  const attemptId = newId("atm");
  const now = Date.now();
  await db.batch([
    db.insert(webhookEndpoints).values({
      id: endpointId,
      tenantId,
      url: "https://hooks.example.com/x",
      events: ["entry.*"],
      enabled: false,
      disabledReason: "manual",
      secret: await sealSecret(env, endpointId, newSecret()),
      createdAt: now,
      updatedAt: now,
    }),
    db.insert(webhookMessages).values({
      id: messageId,
      tenantId,
      endpointId,
      eventId: "evt_x",
      eventType: "entry.created",
      payload: "{}",
      status: "failed",
      attempts: 1,
      step: 1,
      createdAt: now,
      updatedAt: now,
    }),
    db.insert(webhookAttempts).values({
      id: attemptId,
      tenantId,
      messageId,
      endpointId,
      attempt: 1,
      trigger: "scheduled",
      url: "https://hooks.example.com/x",
      statusCode: 500,
      durationMs: 12,
      response: "down",
      startedAt: now,
    }),
  ]);
  return { endpointId, messageId, attemptId };
}
