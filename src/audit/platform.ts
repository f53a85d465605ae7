import { sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { inD1Batch } from "../db/sql";
import { trailStatements } from "./engines/trail";
import { type NewAuditRecord, recordColumns } from "./record";
import { platformAuditCheckpoints, platformAuditEvents } from "./table";

// The platform's own trail, in the control database: what names no tenant (unknown keys, shard
// and platform-key administration, tenant creation). D1 runs one statement at a time, which is
// what keeps its seq gapless.

export const platformTrail = (db: ControlDb) =>
  trailStatements(db, { records: platformAuditEvents, checkpoints: platformAuditCheckpoints }, inD1Batch(db));

/** Appends a record to the platform's trail, its seq taken in the statement. */
export async function recordPlatform(db: ControlDb, record: NewAuditRecord, now = Date.now()): Promise<void> {
  const r = platformAuditEvents;
  const c = platformAuditCheckpoints;
  await db.insert(platformAuditEvents).values({
    seq: sql`(select coalesce(max(s), 0) + 1 from (select max(${r.seq}) as s from ${r} union all select max(${c.seq}) from ${c}))`,
    ...recordColumns(record, now),
  });
}
