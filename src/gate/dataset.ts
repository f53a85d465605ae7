import type { ObjectDataset, TableDataset } from "../datasets/dataset";
import { circuitStates } from "./circuit-table";

/** What the tenant's gate (durable-objects/tenant-gate.ts) keeps in its storage. */
export const gateState = {
  name: "gate-state",
  home: "gate",
  description:
    "The tenant's gate: its copy of the route and keys, recent admissions, the month's quota use, circuits, a move's fence, metrics, usage and slow shard calls not yet sent",
  storage: [
    "copy",
    "admissions",
    "quota",
    "circuits",
    "fence",
    "admin_writes",
    "metric_cells",
    "usage_state",
    "telemetry_outbox",
  ],
  // The route and keys it reloads from the control database; the keys' rows hold their secrets' hashes.
  cached: ["copy"],
} satisfies ObjectDataset;

/** The tenant's circuits' last reported states, for the platform's health. */
export const circuitStateRecords = {
  name: "circuit-states",
  home: "control",
  description: "The last reported state (open or closed) of each of the tenant's circuits",
  tables: { sqlite: circuitStates },
  tenantKey: "tenantId",
  orderKey: ["dependency"],
} satisfies TableDataset;
