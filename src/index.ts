import { createApp } from "./app";
import { consumeDeadLetters } from "./dead-letters/consumer";
import { consumeEvents } from "./events/consumer";
import { queue } from "./jobs/queue";
import { scheduled } from "./jobs/scheduled";
import { consumeUsage } from "./usage/consumer";
import { consumeWebhooks } from "./webhooks/deliver";

export { AuthThrottle } from "../durable-objects/auth-throttle";
export { StreamHub } from "../durable-objects/stream-hub";
export { TenantGate } from "../durable-objects/tenant-gate";

const app = createApp();

/** The queues' names in wrangler.toml. */
const EVENTS_QUEUE = "edge-tenancy-events";
const DEAD_LETTER_QUEUE = "edge-tenancy-dead-letter";
const USAGE_QUEUE = "edge-tenancy-usage";
const WEBHOOKS_QUEUE = "edge-tenancy-webhooks";

const consumers: Record<string, (batch: MessageBatch, env: Env) => Promise<void>> = {
  [EVENTS_QUEUE]: consumeEvents,
  [DEAD_LETTER_QUEUE]: consumeDeadLetters,
  [USAGE_QUEUE]: consumeUsage,
  [WEBHOOKS_QUEUE]: consumeWebhooks,
};

export default {
  fetch: app.fetch,
  scheduled,
  // Five queues reach this Worker: the events feed, webhook attempts, usage records, the dead letters, and lifecycle jobs.
  queue: (batch, env) => (consumers[batch.queue] ?? queue)(batch, env),
} satisfies ExportedHandler<Env>;
