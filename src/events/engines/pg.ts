import { pgAuditCheckpoints, pgAuditEvents } from "../../audit/table";
import type { PgShardDb } from "../../db/client";
import { inPgTransaction } from "../../shards/engines/pg-transaction";
import { pgEvents } from "../table";
import { feedStatements } from "./feed";

/** The feed on a PostgreSQL shard: one transaction holding the tenant's usage row, as every write does. */
export const feedOnPg = (db: PgShardDb) =>
  feedStatements(
    db,
    { events: pgEvents, auditEvents: pgAuditEvents, auditCheckpoints: pgAuditCheckpoints },
    "pg",
    inPgTransaction(db),
  );
