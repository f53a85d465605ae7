import type { TableDataset } from "../datasets/dataset";
import { deadLetters } from "./table";

/** Queue messages about the tenant set aside for an operator: they carry its data (an event, a job's body). */
export const tenantDeadLetters = {
  name: "dead-letters",
  home: "control",
  description: "Queue messages about the tenant that exhausted their retries, kept for an operator to replay",
  tables: { sqlite: deadLetters },
  tenantKey: "tenantId",
  orderKey: ["id"],
  version: "replays",
} satisfies TableDataset;
