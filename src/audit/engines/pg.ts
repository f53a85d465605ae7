import type { PgShardDb } from "../../db/client";
import { inPgTransaction } from "../../shards/engines/pg-transaction";
import { pgAuditCheckpoints, pgAuditEvents } from "../table";
import { trailStatements } from "./trail";

/** The tenants' trails on a PostgreSQL shard: one transaction holding the tenant's usage row. */
export const auditOnPg = (db: PgShardDb) =>
  trailStatements(db, { records: pgAuditEvents, checkpoints: pgAuditCheckpoints }, inPgTransaction(db));
