import { runMoveStep } from "./moves/job";
import { isMoveStep } from "./moves/queue";

/**
 * Consumer of the lifecycle queue. Each message is one bounded step of some longer job; a step
 * queues its successor itself, so a message is acknowledged once its step has run (a failed step
 * has already recorded the failure and queued its retry). Only a step whose bookkeeping failed
 * (the control database down) is left to the queue's own retries.
 */
export async function queue(batch: MessageBatch, env: Env) {
  await Promise.all(
    batch.messages.map(async (message) => {
      if (!isMoveStep(message.body)) {
        console.warn(JSON.stringify({ level: "warn", msg: "unknown lifecycle message dropped", id: message.id }));
        message.ack();
        return;
      }
      try {
        await runMoveStep(env, message.body.moveId, message.body.seq);
        message.ack();
      } catch (error) {
        console.error(
          JSON.stringify({
            level: "error",
            msg: "move step could not run",
            move_id: message.body.moveId,
            error: String(error),
          }),
        );
        message.retry();
      }
    }),
  );
}
