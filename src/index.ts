import { createApp } from "./app";
import { consumeEvents } from "./events/consumer";
import { queue } from "./jobs/queue";
import { scheduled } from "./jobs/scheduled";

export { AuthThrottle } from "../durable-objects/auth-throttle";
export { TenantGate } from "../durable-objects/tenant-gate";

const app = createApp();

/** The events queue's name in wrangler.toml. */
const EVENTS_QUEUE = "edge-tenancy-events";

export default {
  fetch: app.fetch,
  scheduled,
  // Two queues reach this Worker: the events feed, and lifecycle jobs.
  queue: (batch, env) => (batch.queue === EVENTS_QUEUE ? consumeEvents(batch, env) : queue(batch, env)),
} satisfies ExportedHandler<Env>;
