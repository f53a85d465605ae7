import { and, asc, eq, gt, inArray, isNotNull, isNull, lt, lte, max, notExists, type SQL, sql } from "drizzle-orm";
import type { RunAtomically } from "../../audit/engines/trail";
import { auditRow, type NewAuditRecord } from "../../audit/record";
import { chunksOf, selectRowWhere } from "../../db/sql";
import { retryRead } from "../../gate/retry";
import { type ChangeOrigin, eventRow, type NewEvent } from "../event";
import type { OutboxRow } from "../outbox-table";
import type { EventRow } from "../table";

// The tenant's feed and the relay's side of its audit trail, the same statements on both shard
// engines; each engine passes how it runs a batch of writes as one transaction.

type Tables = { events: any; auditEvents: any; auditCheckpoints: any };
type AnyDb = { select: (...fields: any[]) => any; selectDistinct: (...fields: any[]) => any };

/** What a control-database outbox row carries: an event of a control-plane change, or an audit record. */
export type RelayedEvent = NewEvent & ChangeOrigin & { occurredAt: number };
export type RelayedAudit = NewAuditRecord & { occurredAt: number };

/** Seqs per IN list: within D1's 100 bound parameters with the tenant id. */
const SEQS_PER_STATEMENT = 90;

export function feedStatements(db: AnyDb, tables: Tables, engine: "sqlite" | "pg", atomically: RunAtomically) {
  const { events, auditEvents } = tables;
  /** The row, unless one relayed from the same outbox row is there already. */
  const once = (q: any, table: any, tenantId: string, origin: string, row: Record<string, unknown>) =>
    q.insert(table).select(
      selectRowWhere(
        table,
        row,
        notExists(
          q
            .select({ one: sql`1` })
            .from(table)
            .where(and(eq(table.tenantId, tenantId), eq(table.origin, origin))),
        ) as SQL,
        engine,
      ),
    );

  return {
    /**
     * Appends the tenant's outbox rows to its feed and trail in one transaction, in their order,
     * each at the next seq; a row appended before (a relay that died before deleting it) is skipped.
     */
    async appendRelayed(tenantId: string, rows: OutboxRow[]): Promise<void> {
      if (rows.length === 0) return;
      await atomically(tenantId, (q) =>
        rows.map((outboxRow) => {
          const origin = `outbox:${outboxRow.id}`;
          if (outboxRow.kind === "event") {
            const event = outboxRow.payload as unknown as RelayedEvent;
            const row = { ...eventRow(events, tenantId, event, event, event.occurredAt), origin };
            return once(q, events, tenantId, origin, row);
          }
          const record = outboxRow.payload as unknown as RelayedAudit;
          return once(q, auditEvents, tenantId, origin, auditRow(tables, tenantId, record, record.occurredAt, origin));
        }),
      );
    },

    /** The tenant's events not yet on the queue, oldest first. */
    unpublished(tenantId: string, limit: number): Promise<EventRow[]> {
      return retryRead(() =>
        db
          .select()
          .from(events)
          .where(and(eq(events.tenantId, tenantId), isNull(events.publishedAt)))
          .orderBy(asc(events.seq))
          .limit(limit),
      );
    },

    async markPublished(tenantId: string, seqs: number[], at: number): Promise<void> {
      if (seqs.length === 0) return;
      await atomically(tenantId, (q) =>
        chunksOf(seqs, SEQS_PER_STATEMENT).map((chunk) =>
          q
            .update(events)
            .set({ publishedAt: at })
            .where(and(eq(events.tenantId, tenantId), inArray(events.seq, chunk))),
        ),
      );
    },

    /** The tenant's events after `afterSeq`, oldest first: the feed as its readers page it. */
    page(tenantId: string, afterSeq: number, limit: number): Promise<EventRow[]> {
      return retryRead(() =>
        db
          .select()
          .from(events)
          .where(and(eq(events.tenantId, tenantId), gt(events.seq, afterSeq)))
          .orderBy(asc(events.seq))
          .limit(limit),
      );
    },

    /** The seq of the tenant's newest event (0: none yet): where a stream opened now starts. */
    async newestSeq(tenantId: string): Promise<number> {
      const [row] = await retryRead<{ seq: number | null }[]>(() =>
        db
          .select({ seq: max(events.seq).mapWith(Number) })
          .from(events)
          .where(eq(events.tenantId, tenantId)),
      );
      return row?.seq ?? 0;
    },

    /**
     * The seq of the tenant's newest event written at or before `at` in the transaction of its
     * change (an entry write's; 0: none was), or null when the feed no longer reaches back that far
     * (retention dropped the events after it). Relayed events are left out: they take their seq
     * when the relay appends them, later than they happened, so their times are out of seq order.
     */
    async seqAt(tenantId: string, at: number): Promise<number | null> {
      const written = and(isNull(events.origin), lte(events.occurredAt, at));
      const [row] = await retryRead<{ seq: number | null; first: number | null }[]>(() =>
        db
          .select({
            seq: max(sql`case when ${written} then ${events.seq} end`).mapWith(Number),
            first: sql`min(${events.seq})`.mapWith(Number),
          })
          .from(events)
          .where(eq(events.tenantId, tenantId)),
      );
      const first = row?.first ?? null;
      const seq = row?.seq ?? null;
      if (first === null) return 0;
      // Nothing retained happened by `at`: it is before the feed's reach unless the feed starts at 1.
      if (seq === null) return first === 1 ? 0 : null;
      return seq;
    },

    /** Tenants of this shard with events not yet on the queue. */
    async tenantsUnpublished(limit: number): Promise<string[]> {
      const rows: { tenantId: string }[] = await retryRead(() =>
        db.selectDistinct({ tenantId: events.tenantId }).from(events).where(isNull(events.publishedAt)).limit(limit),
      );
      return rows.map((row) => row.tenantId);
    },

    /**
     * Drops published events of the shard's tenants that happened before `before`, up to `limit`
     * of them, never a tenant's newest (its seq is where the next one counts from); returns how many.
     */
    async dropPublished(before: number, limit: number): Promise<number> {
      const newest = db
        .select({ seq: max(sql`${sql.identifier("newest")}.${sql.identifier("seq")}`) })
        .from(sql`${events} as ${sql.identifier("newest")}`)
        .where(sql`${sql.identifier("newest")}.${sql.identifier("tenant_id")} = ${events.tenantId}`);
      const doomed = and(isNotNull(events.publishedAt), lt(events.occurredAt, before), lt(events.seq, newest));
      const dropped = await atomically(null, (q) => [
        q
          .delete(events)
          .where(
            sql`(${events.tenantId}, ${events.seq}) in (${q
              .select({ tenantId: events.tenantId, seq: events.seq })
              .from(events)
              .where(doomed)
              .limit(limit)})`,
          )
          .returning({ seq: events.seq }),
      ]);
      return ((dropped[0] as unknown[]) ?? []).length;
    },
  };
}

export type FeedStatements = ReturnType<typeof feedStatements>;
