import type { TableDataset } from "../datasets/dataset";
import { webhookAttempts, webhookEndpoints, webhookMessages } from "./table";

/** The tenant's endpoints without their secrets (sealed or not) and without their circuits' state. */
export const tenantWebhookEndpoints = {
  name: "webhook-endpoints",
  home: "control",
  description: "The tenant's webhook endpoints: URL, event types, description, enabled, why disabled, failing since",
  tables: { sqlite: webhookEndpoints },
  tenantKey: "tenantId",
  orderKey: ["id"],
  version: "version",
  omit: ["secret", "previousSecret", "circuit"],
} satisfies TableDataset;

/** Each event sent to each endpoint: its body is the tenant's event. */
export const tenantWebhookMessages = {
  name: "webhook-messages",
  home: "control",
  description: "The events sent to the tenant's endpoints, with each one's delivery status",
  tables: { sqlite: webhookMessages },
  tenantKey: "tenantId",
  orderKey: ["id"],
  version: "updatedAt",
} satisfies TableDataset;

export const tenantWebhookAttempts = {
  name: "webhook-attempts",
  home: "control",
  description: "Every delivery attempt to the tenant's endpoints: status, duration, the response's first 1 KiB, error",
  tables: { sqlite: webhookAttempts },
  tenantKey: "tenantId",
  orderKey: ["id"],
} satisfies TableDataset;
