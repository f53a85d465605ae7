import { controlDb } from "../db/client";
import { errorText } from "../db/errors";
import { storeDeadLetter } from "./service";

/**
 * The dead-letter queue's handler: stores each message (once per id) for `GET
 * /v1/admin/dead-letters`, then acknowledges it. A message it cannot store is retried by the
 * queue; nothing dead-letters a dead letter.
 */
export async function consumeDeadLetters(batch: MessageBatch, env: Env): Promise<void> {
  const db = controlDb(env);
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await storeDeadLetter(db, message.id, message.body);
        message.ack();
      } catch (error) {
        console.error(
          JSON.stringify({ level: "error", msg: "dead letter not stored", id: message.id, error: errorText(error) }),
        );
        message.retry();
      }
    }),
  );
}
