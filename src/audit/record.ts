import { createHash } from "node:crypto";
import { eq, type SQL, sql } from "drizzle-orm";
import type { Actor } from "../auth/actor";
import { canonicalJson } from "../datasets/canonical";

export type AuditTarget = { type: string; id: string };
export type AuditContext = {
  ip: string | null;
  user_agent: string | null;
  country: string | null;
  request_id: string | null;
  /** Records of unknown keys this isolate let go before this one (a flood is sampled). */
  suppressed?: number;
  /** The answer was an Idempotency-Key replay of an earlier request's: nothing changed again. */
  replayed?: true;
  /** A purged tenant's record: when it had been deleted. */
  deleted_at?: string | null;
};

/** An audit record as routes, exports and the offline verifier see it. */
export type AuditRecord = {
  id: string;
  seq: number;
  /** null on the platform's trail. */
  tenant_id: string | null;
  actor: Actor;
  action: string;
  targets: AuditTarget[];
  context: AuditContext;
  outcome: { status: number };
  occurred_at: string;
  /** null until the chainer has linked the record (moments after it commits). */
  prev_hash: string | null;
  hash: string | null;
};

/** The previous hash of a trail's first record. */
export const GENESIS_HASH = "0".repeat(64);

/** The id of a trail's `seq`th record: sorts in trail order, unique across trails. */
export const auditId = (tenantId: string | null, seq: number) =>
  `aud_${tenantId === null ? "platform" : tenantId.replace(/^ten_/, "")}_${String(seq).padStart(12, "0")}`;

/** The columns of a trail row, on either trail. */
export type TrailRow = {
  seq: number;
  action: string;
  actorType: string;
  actorId: string | null;
  actorKeyPrefix: string | null;
  targets: AuditTarget[];
  context: AuditContext;
  outcomeStatus: number;
  occurredAt: number;
  prevHash: string | null;
  hash: string | null;
};

export const auditRecord = (tenantId: string | null, row: TrailRow): AuditRecord => ({
  id: auditId(tenantId, row.seq),
  seq: row.seq,
  tenant_id: tenantId,
  actor: { type: row.actorType as Actor["type"], id: row.actorId, key_prefix: row.actorKeyPrefix },
  action: row.action,
  targets: row.targets,
  context: row.context,
  outcome: { status: row.outcomeStatus },
  occurred_at: new Date(row.occurredAt).toISOString(),
  prev_hash: row.prevHash,
  hash: row.hash,
});

/** What a record's hash covers: every field but the two hashes, in RFC 8785 canonical JSON. */
export function hashedText(record: AuditRecord): string {
  const { prev_hash: _, hash: __, ...event } = record;
  return canonicalJson(event);
}

/** `hash = SHA-256(prev_hash ‖ canonical JSON of the event)`, both as hex. */
export const chainHash = (prevHash: string, record: AuditRecord) =>
  createHash("sha256").update(prevHash).update(hashedText(record)).digest("hex");

/** What a request's audit record says, before its trail gives it a seq. */
export type NewAuditRecord = {
  action: string;
  actor: Actor;
  targets: AuditTarget[];
  context: AuditContext;
  status: number;
};

/**
 * The trail's next seq inside the inserting statement (writers of one tenant are serialised there,
 * see nextEventSeq). Retention drops records up to a checkpoint it keeps, so the checkpoints count too.
 */
export const nextAuditSeq = (records: any, checkpoints: any, tenantId: string): SQL =>
  sql`(select coalesce(max(${sql.identifier("s")}), 0) + 1 from (select max(${records.seq}) as ${sql.identifier("s")} from ${records} where ${eq(records.tenantId, tenantId)} union all select max(${checkpoints.seq}) from ${checkpoints} where ${eq(checkpoints.tenantId, tenantId)}) as ${sql.identifier("heads")})`;

/** A new record's columns on either trail, not linked yet. */
export const recordColumns = (record: NewAuditRecord, now: number) => ({
  action: record.action,
  actorType: record.actor.type,
  actorId: record.actor.id,
  actorKeyPrefix: record.actor.key_prefix,
  targets: record.targets,
  context: record.context,
  outcomeStatus: record.status,
  occurredAt: now,
  prevHash: null,
  hash: null,
});

/** The tenant-trail row of a new record, its seq taken in the inserting statement. */
export const auditRow = (
  tables: { auditEvents: any; auditCheckpoints: any },
  tenantId: string,
  record: NewAuditRecord,
  now: number,
  origin: string | null = null,
) => ({
  tenantId,
  seq: nextAuditSeq(tables.auditEvents, tables.auditCheckpoints, tenantId),
  ...recordColumns(record, now),
  origin,
});
