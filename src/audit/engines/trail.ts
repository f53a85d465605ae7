import { and, asc, desc, eq, gt, gte, isNull, lt, lte, type SQL, sql } from "drizzle-orm";
import { retryRead } from "../../gate/retry";
import type { TrailRow } from "../record";
import type { CheckpointRow } from "../table";

// A trail's statements, the same on a D1 shard, a PostgreSQL shard and the control database (the
// platform's trail, which has no tenant column): only how a batch of writes is made one
// transaction differs, which each caller passes in.

/** Records matching every given field. */
export type TrailFilter = {
  /** An action or the start of one: `entry.` matches entry.created and entry.deleted. */
  actionPrefix?: string;
  actorId?: string;
  /** A target's id, of any type. */
  targetId?: string;
  status?: number;
  from?: number;
  to?: number;
};

/** The chain's link of one record: what the chainer writes. */
export type Link = { seq: number; prevHash: string; hash: string };

/** Runs the statements as one transaction (a D1 batch; a PostgreSQL transaction holding the tenant's usage row). */
export type RunAtomically = (tenantId: string | null, statements: (q: any) => any[]) => Promise<unknown[]>;

/** A checkpoint as a trail stores it; `tenantId` is null on the platform's trail. */
export type Checkpoint = Omit<CheckpointRow, "tenantId">;

type Tables = { records: any; checkpoints: any };
type AnyDb = { select: (...fields: any[]) => any; selectDistinct: (...fields: any[]) => any };

/** `text` as a LIKE pattern that matches it literally, with ESCAPE '\\' (ids hold `_`, a wildcard). */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** The records' rows, less the tenant column and the relay's origin. */
const trailColumns = (t: any) => ({
  seq: t.seq,
  action: t.action,
  actorType: t.actorType,
  actorId: t.actorId,
  actorKeyPrefix: t.actorKeyPrefix,
  targets: t.targets,
  context: t.context,
  outcomeStatus: t.outcomeStatus,
  occurredAt: t.occurredAt,
  prevHash: t.prevHash,
  hash: t.hash,
});

export function trailStatements(db: AnyDb, { records, checkpoints }: Tables, atomically: RunAtomically) {
  // The platform's trail has no tenant column: all of it is the one trail.
  const ofTenant = (t: any, tenantId: string | null): SQL | undefined =>
    tenantId === null || t.tenantId === undefined ? undefined : eq(t.tenantId, tenantId);
  const columns = trailColumns(records);

  return {
    /** Records not linked yet, in seq order: always the end of the trail (the chainer links in order). */
    unchained(tenantId: string | null, limit: number): Promise<TrailRow[]> {
      return retryRead(() =>
        db
          .select(columns)
          .from(records)
          .where(and(ofTenant(records, tenantId), isNull(records.hash)))
          .orderBy(asc(records.seq))
          .limit(limit),
      );
    },

    /**
     * The hash the record at `seq` links to: its predecessor's, or that of a checkpoint at
     * `seq - 1` (retention dropped the records before it); null when neither exists.
     */
    async anchorOf(tenantId: string | null, seq: number): Promise<string | null> {
      const [record] = await retryRead<{ hash: string | null }[]>(() =>
        db
          .select({ hash: records.hash })
          .from(records)
          .where(and(ofTenant(records, tenantId), eq(records.seq, seq - 1))),
      );
      if (record) return record.hash;
      const [checkpoint] = await retryRead<{ hash: string }[]>(() =>
        db
          .select({ hash: checkpoints.hash })
          .from(checkpoints)
          .where(and(ofTenant(checkpoints, tenantId), eq(checkpoints.seq, seq - 1))),
      );
      return checkpoint?.hash ?? null;
    },

    /** Writes the links of records still unlinked; a concurrent chainer computed the same ones. */
    async link(tenantId: string | null, links: Link[]): Promise<void> {
      if (links.length === 0) return;
      await atomically(tenantId, (q) =>
        links.map((l) =>
          q
            .update(records)
            .set({ prevHash: l.prevHash, hash: l.hash })
            .where(and(ofTenant(records, tenantId), eq(records.seq, l.seq), isNull(records.hash))),
        ),
      );
    },

    /** Ascending after `afterSeq`: what verification and export walk. */
    walk(tenantId: string | null, afterSeq: number, limit: number): Promise<TrailRow[]> {
      return retryRead(() =>
        db
          .select(columns)
          .from(records)
          .where(and(ofTenant(records, tenantId), gt(records.seq, afterSeq)))
          .orderBy(asc(records.seq))
          .limit(limit),
      );
    },

    /** Newest first, matching the filter, before the seq `before` (null: from the newest). */
    search(tenantId: string | null, filter: TrailFilter, before: number | null, limit: number): Promise<TrailRow[]> {
      const prefix = filter.actionPrefix;
      // Targets are JSON text from JSON.stringify, where an id appears as `"id":"<id>"`.
      const target = filter.targetId === undefined ? undefined : JSON.stringify({ id: filter.targetId }).slice(1, -1);
      return retryRead(() =>
        db
          .select(columns)
          .from(records)
          .where(
            and(
              ofTenant(records, tenantId),
              before === null ? undefined : lt(records.seq, before),
              // A prefix is a range of the binary-ordered action texts: no LIKE wildcard to escape.
              prefix === undefined
                ? undefined
                : and(gte(records.action, prefix), lt(records.action, `${prefix}\u{10ffff}`)),
              filter.actorId === undefined ? undefined : eq(records.actorId, filter.actorId),
              target === undefined ? undefined : sql`${records.targets} like ${`%${likeLiteral(target)}%`} escape '\\'`,
              filter.status === undefined ? undefined : eq(records.outcomeStatus, filter.status),
              filter.from === undefined ? undefined : gte(records.occurredAt, filter.from),
              filter.to === undefined ? undefined : lte(records.occurredAt, filter.to),
            ),
          )
          .orderBy(desc(records.seq))
          .limit(limit),
      );
    },

    /** Every checkpoint of the trail, oldest first (a few a day at most). */
    checkpoints(tenantId: string | null): Promise<Checkpoint[]> {
      return retryRead(() =>
        db
          .select({
            seq: checkpoints.seq,
            hash: checkpoints.hash,
            signedAt: checkpoints.signedAt,
            signature: checkpoints.signature,
          })
          .from(checkpoints)
          .where(ofTenant(checkpoints, tenantId))
          .orderBy(asc(checkpoints.seq)),
      );
    },

    async addCheckpoint(tenantId: string | null, checkpoint: Checkpoint): Promise<void> {
      const row = checkpoints.tenantId === undefined || tenantId === null ? checkpoint : { ...checkpoint, tenantId };
      await atomically(tenantId, (q) => [q.insert(checkpoints).values(row).onConflictDoNothing()]);
    },

    /** Drops the records up to `seq` and the checkpoints before it; the checkpoint at `seq` stays as the new start. */
    async dropThrough(tenantId: string | null, seq: number): Promise<void> {
      await atomically(tenantId, (q) => [
        q.delete(records).where(and(ofTenant(records, tenantId), lte(records.seq, seq))),
        q.delete(checkpoints).where(and(ofTenant(checkpoints, tenantId), lt(checkpoints.seq, seq))),
      ]);
    },

    /** The newest seq among records that happened before `time`, or null. */
    async lastBefore(tenantId: string | null, time: number): Promise<number | null> {
      const [row] = await retryRead<{ seq: unknown }[]>(() =>
        db
          .select({ seq: sql`max(${records.seq})` })
          .from(records)
          .where(and(ofTenant(records, tenantId), lt(records.occurredAt, time))),
      );
      return row?.seq === null || row?.seq === undefined ? null : Number(row.seq);
    },

    /** Tenants of this database with records waiting for the chainer. */
    async tenantsUnchained(limit: number): Promise<string[]> {
      if (records.tenantId === undefined) return [];
      const rows: { tenantId: string }[] = await retryRead(() =>
        db.selectDistinct({ tenantId: records.tenantId }).from(records).where(isNull(records.hash)).limit(limit),
      );
      return rows.map((row) => row.tenantId);
    },

    /** Tenants of this database that have a trail, in id order after `after` (the retention job's walk). */
    async tenants(after: string | null, limit: number): Promise<string[]> {
      if (records.tenantId === undefined) return [];
      const rows: { tenantId: string }[] = await retryRead(() =>
        db
          .selectDistinct({ tenantId: records.tenantId })
          .from(records)
          .where(after === null ? undefined : gt(records.tenantId, after))
          .orderBy(asc(records.tenantId))
          .limit(limit),
      );
      return rows.map((row) => row.tenantId);
    },
  };
}

export type TrailStatements = ReturnType<typeof trailStatements>;
