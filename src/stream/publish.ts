import { errorText } from "../db/errors";
import type { FeedEvent } from "../events/event";
import { hubOf } from "./protocol";

/**
 * Hands the tenant's delivered events to its stream hub. Best effort: a hub that misses a batch
 * reads what it lacks from the feed with the next one, and a client resumes by `last_event_id`;
 * so a failure here is logged, never retried at the cost of the batch's other consumers.
 */
export async function publishToStream(env: Env, tenantId: string, events: FeedEvent[]): Promise<void> {
  try {
    await hubOf(env, tenantId).publish(tenantId, events);
  } catch (error) {
    console.warn(
      JSON.stringify({ level: "warn", msg: "stream hub missed a batch", tenant_id: tenantId, error: errorText(error) }),
    );
  }
}
