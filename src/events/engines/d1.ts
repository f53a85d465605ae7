import { auditCheckpoints, auditEvents } from "../../audit/table";
import type { ShardDb } from "../../db/client";
import { inD1Batch } from "../../db/sql";
import { events } from "../table";
import { feedStatements } from "./feed";

/** The feed on a D1 shard: a batch is one transaction. */
export const feedOnD1 = (db: ShardDb) =>
  feedStatements(db, { events, auditEvents, auditCheckpoints }, "sqlite", inD1Batch(db));
