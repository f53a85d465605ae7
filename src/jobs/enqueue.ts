// Only the registry's types are imported: the registry imports every job, and jobs enqueue.
import type { BodyOf, KindName } from "./registry";

/**
 * Queues a message of a declared kind on the lifecycle queue; the body is type-checked against
 * the kind's schema, which the consumer checks again.
 *
 * @example
 * await enqueue(env, "move-step", { moveId, seq }, { delaySeconds: 5 });
 */
export async function enqueue<Name extends KindName>(
  env: Env,
  kind: Name,
  body: BodyOf<Name>,
  options: { delaySeconds?: number } = {},
): Promise<void> {
  const delaySeconds = options.delaySeconds ?? 0;
  await env.LIFECYCLE_QUEUE.send({ ...body, kind }, delaySeconds > 0 ? { delaySeconds } : undefined);
}
