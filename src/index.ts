import { createApp } from "./app";
import { queue } from "./jobs/queue";
import { scheduled } from "./jobs/scheduled";

export { AuthThrottle } from "../durable-objects/auth-throttle";
export { TenantGate } from "../durable-objects/tenant-gate";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled,
  queue,
} satisfies ExportedHandler<Env>;
