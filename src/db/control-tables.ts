// Every table of the control database, for drizzle-kit and the typed client.
export { tenantArchives } from "../archives/table";
export { platformAuditCheckpoints, platformAuditEvents } from "../audit/table";
export { deadLetters } from "../dead-letters/table";
export { eventCursors } from "../events/cursor-table";
export { outbox } from "../events/outbox-table";
export { flagOverrides, flagRevision, flags } from "../flags/table";
export { circuitStates } from "../gate/circuit-table";
export { idempotencyRecords } from "../http/idempotency-table";
export { apiKeys } from "../keys/table";
export { metricMinutes, metricTenantTotals, metricTierTotals, slowQueries } from "../metrics/table";
export { tenantMoves } from "../moves/table";
export { plans } from "../plans/table";
export { quotaTrips } from "../quotas/table";
export { tenantRestores } from "../restores/table";
export { placementCursors, shards } from "../shards/table";
export { tenants } from "../tenants/table";
export { usageDaily, usageHourly, usageRecords } from "../usage/table";
export { users } from "../users/table";
