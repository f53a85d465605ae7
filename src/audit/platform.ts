import { type SQL, sql } from "drizzle-orm";
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

/** The platform trail's next seq, taken in the inserting statement. */
const r = platformAuditEvents;
const c = platformAuditCheckpoints;
const nextSeq = sql`(select coalesce(max(s), 0) + 1 from (select max(${r.seq}) as s from ${r} union all select max(${c.seq}) from ${c}))`;

/** Appends a record to the platform's trail, its seq taken in the statement. */
export async function recordPlatform(db: ControlDb, record: NewAuditRecord, now = Date.now()): Promise<void> {
  await db.insert(platformAuditEvents).values({ seq: nextSeq, ...recordColumns(record, now) });
}

/**
 * The insert of a record into the platform's trail, for a batch, made only when `when` holds as
 * the statement runs (e.g. `changes() > 0`: the statement before it changed a row).
 */
export function platformRecordInsert(db: ControlDb, record: NewAuditRecord, when: SQL, now = Date.now()) {
  const row = recordColumns(record, now);
  return db
    .insert(platformAuditEvents)
    .select(
      sql`select ${nextSeq}, ${row.action}, ${row.actorType}, ${row.actorId}, ${row.actorKeyPrefix}, ${JSON.stringify(row.targets)}, ${JSON.stringify(row.context)}, ${row.outcomeStatus}, ${row.occurredAt}, null, null where ${when}`,
    );
}
