import { createApp } from "./app";
import { scheduled } from "./scheduled";

export { TenantGate } from "../durable-objects/tenant-gate";

const app = createApp();

export default {
  fetch: app.fetch,
  scheduled,
} satisfies ExportedHandler<Env>;
