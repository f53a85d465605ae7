import { controlDb } from "../db/client";
import { errorText } from "../db/errors";
import { purging } from "../lifecycle/state";
import { UsageRecord } from "./record";
import { applyUsage } from "./store";

/**
 * The usage queue's handler: applies the batch's records (each once, by id: src/usage/store.ts)
 * and acknowledges them, or retries the batch when the control database fails. A record of a
 * purged tenant is dropped (its rows would outlive the purge); a message that is no usage record
 * goes to the dead-letter queue, as a retry would not change it.
 */
export async function consumeUsage(batch: MessageBatch, env: Env): Promise<void> {
  const db = controlDb(env);
  const records: UsageRecord[] = [];
  const accepted: Message[] = [];
  for (const message of batch.messages) {
    const parsed = UsageRecord.safeParse(message.body);
    if (parsed.success) {
      records.push(parsed.data);
      accepted.push(message);
      continue;
    }
    console.warn(JSON.stringify({ level: "warn", msg: "usage queue message is not a usage record", id: message.id }));
    try {
      await env.DEAD_LETTER_QUEUE.send(message.body);
      message.ack();
    } catch {
      message.retry();
    }
  }
  try {
    const tenants = [...new Set(records.map((record) => record.subject))];
    const gone = new Set<string>();
    for (const tenantId of tenants) if (await purging(db, tenantId)) gone.add(tenantId);
    await applyUsage(
      db,
      records.filter((record) => !gone.has(record.subject)),
    );
    for (const message of accepted) message.ack();
  } catch (error) {
    console.error(JSON.stringify({ level: "error", msg: "usage not applied", error: errorText(error) }));
    for (const message of accepted) message.retry();
  }
}
