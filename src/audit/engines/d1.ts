import type { ShardDb } from "../../db/client";
import { inD1Batch } from "../../db/sql";
import { auditCheckpoints, auditEvents } from "../table";
import { trailStatements } from "./trail";

/** The tenants' trails on a D1 shard: a batch is one transaction. */
export const auditOnD1 = (db: ShardDb) =>
  trailStatements(db, { records: auditEvents, checkpoints: auditCheckpoints }, inD1Batch(db));
