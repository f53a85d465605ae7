import type { z } from "zod";
import type { MessageKind } from "./kind";

/**
 * Queues a message of a declared kind on the lifecycle queue. The body is checked against the
 * kind's schema here too, so a bad body fails where it is made, not in the consumer.
 *
 * @example
 * await enqueue(env, moveStepMessage, { moveId, seq }, { delaySeconds: 5 });
 */
export async function enqueue<Body extends z.ZodObject>(
  env: Env,
  kind: MessageKind<string, Body>,
  body: z.input<Body>,
  options: { delaySeconds?: number } = {},
): Promise<void> {
  const delaySeconds = options.delaySeconds ?? 0;
  const checked = kind.body.parse(body);
  await env.LIFECYCLE_QUEUE.send({ ...checked, kind: kind.name }, delaySeconds > 0 ? { delaySeconds } : undefined);
}
