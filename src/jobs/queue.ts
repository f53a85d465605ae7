import { errorText } from "../db/errors";
import { settings } from "../settings";
import type { JobKind } from "./kind";
import { byName, KINDS } from "./registry";

/** What was wrong with a message, without its values (a body may carry anything). */
type Issue = { path: string; code: string; message: string };

type Read = { kind: JobKind; body: Record<string, unknown> } | { kind: string | null; issues: Issue[] };

/** The message's kind and its body checked against the kind's schema. */
function read(kinds: ReadonlyMap<string, JobKind>, message: unknown): Read {
  const fields = typeof message === "object" && message !== null ? (message as Record<string, unknown>) : {};
  const kind = typeof fields.kind === "string" ? kinds.get(fields.kind) : undefined;
  if (!kind) {
    const named = typeof fields.kind === "string" ? fields.kind.slice(0, 100) : null;
    return { kind: named, issues: [{ path: "kind", code: "unknown_kind", message: "Not a declared job kind" }] };
  }
  const { kind: _, ...body } = fields;
  const parsed = kind.body.safeParse(body);
  if (parsed.success) return { kind, body: parsed.data };
  return {
    kind: kind.name,
    issues: parsed.error.issues.map((issue) => ({
      path: issue.path.map(String).join("."),
      code: issue.code,
      message: issue.message,
    })),
  };
}

/**
 * A message no job can run is set aside, not retried: retries would not change it. It goes to the
 * dead-letter queue unchanged, as the platform sends there the messages that exhaust their
 * retries, so one replay serves both.
 */
async function deadLetter(env: Env, message: Message, kind: string | null, issues: Issue[]) {
  console.warn(JSON.stringify({ level: "warn", msg: "lifecycle message dead-lettered", kind, id: message.id, issues }));
  try {
    await env.DEAD_LETTER_QUEUE.send(message.body);
  } catch (error) {
    // Retried, it ends on the dead-letter queue through the consumer's own max_retries.
    console.error(
      JSON.stringify({
        level: "error",
        msg: "dead-letter queue refused a message",
        id: message.id,
        error: errorText(error),
      }),
    );
    message.retry();
    return;
  }
  message.ack();
}

/**
 * The wait before a failed message's next try: JOB_RETRY_DELAY_SECONDS (5) doubling per try, at
 * most 5 minutes; after the consumer's max_retries (10) the queue sets it on the dead-letter queue.
 */
export const retryDelayOf = (env: Env, attempts: number) =>
  Math.min(300, settings(env).jobRetryDelaySeconds * 2 ** Math.max(0, attempts - 1));

async function consume(env: Env, kinds: ReadonlyMap<string, JobKind>, message: Message) {
  const checked = read(kinds, message.body);
  if ("issues" in checked) return deadLetter(env, message, checked.kind, checked.issues);
  const { kind, body } = checked;
  try {
    await kind.run(env, body);
    message.ack();
  } catch (error) {
    console.error(
      JSON.stringify({
        level: "error",
        msg: "job could not run",
        kind: kind.name,
        id: message.id,
        ...kind.logFields?.(body),
        attempts: message.attempts,
        error: errorText(error),
      }),
    );
    message.retry({ delaySeconds: retryDelayOf(env, message.attempts) });
  }
}

/**
 * A consumer of the lifecycle queue for these kinds. Each message is one bounded step of some
 * longer job, which queues its successor and records and re-queues its own failures; so a message
 * is acknowledged once its job has run, and only a job that throws (its bookkeeping failed: the
 * control database down; a purge's shard unreachable) is left to the queue's retries, with backoff.
 */
export function createQueueHandler(kinds: readonly JobKind[]) {
  const named = byName(kinds);
  return async (batch: MessageBatch, env: Env): Promise<void> => {
    await Promise.all(batch.messages.map((message) => consume(env, named, message)));
  };
}

/** The Worker's queue handler, over every declared kind. */
export const queue = createQueueHandler(KINDS);
