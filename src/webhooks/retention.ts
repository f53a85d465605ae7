import { and, inArray, lt, ne } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { settings } from "../settings";
import { webhookAttempts, webhookMessages } from "./table";

const PAGE = 90;

/**
 * Drops messages (with their attempts) whose last change is older than WEBHOOK_RETENTION_DAYS;
 * pending ones stay however old, as their delivery is not over. Returns the messages dropped.
 */
export async function applyWebhookRetention(db: ControlDb, env: Env, now = Date.now()): Promise<number> {
  const before = now - settings(env).webhookRetentionMs;
  let dropped = 0;
  for (;;) {
    const old = await db
      .select({ id: webhookMessages.id })
      .from(webhookMessages)
      .where(and(lt(webhookMessages.updatedAt, before), ne(webhookMessages.status, "pending")))
      .limit(PAGE);
    if (old.length === 0) return dropped;
    const ids = old.map((row) => row.id);
    await db.batch([
      db.delete(webhookAttempts).where(inArray(webhookAttempts.messageId, ids)),
      db.delete(webhookMessages).where(inArray(webhookMessages.id, ids)),
    ]);
    dropped += ids.length;
  }
}
