// Every table of the control database, for drizzle-kit and the typed client.
export { idempotencyRecords } from "../http/idempotency-schema";
export { apiKeys } from "../keys/schema";
export { tenantMoves } from "../moves/schema";
export { plans } from "../plans/schema";
export { placementCursors, shards } from "../shards/schema";
export { tenants } from "../tenants/schema";
export { users } from "../users/schema";
