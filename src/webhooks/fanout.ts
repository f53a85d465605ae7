import { and, eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { subscribed } from "../events/patterns";
import { newId } from "../http/ids";
import { type DeliveryTask, type Enqueue, queueTasks } from "./deliver";
import { webhookEndpoints, webhookMessages } from "./table";

/** What the fan-out reads of a published event; the whole event is the body sent. */
export type PublishedEvent = { id: string; tenant_id: string; type: string; body: unknown };

/**
 * One message per event and subscribed endpoint, each queued for its first attempt at once. The
 * feed delivers an event at least once: the message is written once (unique per event and
 * endpoint), and queued only by the write that created it. A message written but never queued
 * (a failure between the two) is pending and overdue, which the minute sweep queues.
 */
export async function fanOut(
  env: Env,
  db: ControlDb,
  tenantId: string,
  events: readonly PublishedEvent[],
  enqueue: Enqueue = (tasks) => queueTasks(env, tasks),
) {
  if (events.length === 0) return 0;
  const endpoints = await db
    .select({ id: webhookEndpoints.id, events: webhookEndpoints.events })
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.tenantId, tenantId), eq(webhookEndpoints.enabled, true)));
  const now = Date.now();
  const rows = events.flatMap((event) =>
    endpoints
      .filter((endpoint) => subscribed(endpoint.events, event.type))
      .map((endpoint) => ({
        id: newId("msg"),
        tenantId,
        endpointId: endpoint.id,
        eventId: event.id,
        eventType: event.type,
        payload: JSON.stringify(event.body),
        status: "pending" as const,
        nextAttemptAt: now,
        createdAt: now,
        updatedAt: now,
      })),
  );
  if (rows.length === 0) return 0;
  const inserted = await db.batch(
    rows.map((row) =>
      db.insert(webhookMessages).values(row).onConflictDoNothing().returning({ id: webhookMessages.id }),
    ) as [never, ...never[]],
  );
  const created = (inserted as { id: string }[][]).flat();
  const tasks = created.map(({ id }) => ({
    task: { message_id: id, tenant_id: tenantId, attempt: 1, trigger: "scheduled" } satisfies DeliveryTask,
    delaySeconds: 0,
  }));
  await enqueue(tasks);
  return tasks.length;
}
