import { and, eq, getTableColumns } from "drizzle-orm";
import { auditRow } from "../../audit/record";
import { canonicalRow } from "../../datasets/canonical";
import { newestFirst, type PageRequest } from "../../db/keyset";
import type { Appended, Change } from "../../events/change";
import { eventRow, type NewEvent } from "../../events/event";
import { retryRead } from "../../gate/retry";
import { notFound } from "../../http/problems";
import type { EntryInput, EntryPage, Precondition, StorageLimits } from "../../shards/store";
import { entryData } from "../dataset";
import { entryPredicates } from "../predicates";
import { deleteChecked, newEntryRow, quotaError, replacementOf, replaceOptimistically } from "../rules";
import type { Entry } from "../table";

// The entries' statements, written once for both shard engines: SQLite and PostgreSQL spell them
// alike, and ./d1.ts and ./pg.ts say how each makes a write atomic.

/** Either engine's drizzle client and entries tables: the reads below are the same statements on both. */
type AnyDb = { select: (...fields: any[]) => any };
type Tables = { entries: any; entryTags: any };

/** The entries' reads, spelt and run alike on D1 and PostgreSQL. */
function entryReads(db: AnyDb, { entries, entryTags }: Tables) {
  const where = entryPredicates(entries, entryTags);
  return {
    async getEntry(tenantId: string, entryId: string): Promise<Entry> {
      const [row] = await retryRead<Entry[]>(() => db.select().from(entries).where(where.entry(tenantId, entryId)));
      if (!row) throw notFound("Entry");
      return row;
    },

    /**
     * Newest first, keyset-paginated on the id (ULIDs sort by creation time; ids compare bytewise
     * on both engines). With a tag, walk the tag index in id order and join each entry: one query
     * whatever the page size (an id list would pass D1's 100 bound parameters at limit 100).
     */
    listEntries(tenantId: string, filter: { tag?: string }, page: PageRequest): Promise<EntryPage> {
      const keyset = newestFirst(filter.tag === undefined ? entries.id : entryTags.entryId, page);
      return retryRead(async () => {
        const rows: Entry[] =
          filter.tag === undefined
            ? await db
                .select()
                .from(entries)
                .where(and(eq(entries.tenantId, tenantId), keyset.after))
                .orderBy(keyset.order)
                .limit(keyset.limit)
            : await db
                .select(getTableColumns(entries))
                .from(entryTags)
                .innerJoin(entries, where.tagOfEntry)
                .where(and(eq(entryTags.tenantId, tenantId), eq(entryTags.tag, filter.tag), keyset.after))
                .orderBy(keyset.order)
                .limit(keyset.limit);
        return keyset.page(rows);
      });
    },
  };
}

/** A write's statement, built on whichever handle the engine runs it on (its db, a transaction). */
type Write<T> = (q: any) => PromiseLike<T[]>;

/**
 * How an engine makes an entry write atomic, the one thing the engines do differently: D1 runs
 * a batch, PostgreSQL a transaction that takes the tenant's usage row first. Either way the
 * `appended` rows (the write's event and audit record) are inserted in the same transaction if,
 * and only if, the write changed a row.
 */
export type Atomicity = {
  /** Runs `write` in one transaction after setting the tenant's storage limits its triggers enforce. */
  withLimits<T>(tenantId: string, limits: StorageLimits, write: Write<T>, appended: Appended[]): Promise<T[]>;
  /** Runs `write` in one transaction with the tenant's usage row held. */
  withUsage<T>(tenantId: string, write: Write<T>, appended: Appended[]): Promise<T[]>;
};

/** The shard tables an entry write touches, on one engine. */
export type EntryTables = { entries: any; entryTags: any; events: any; auditEvents: any; auditCheckpoints: any };

/** The entries of a shard, through either engine's drizzle client, tables and atomicity. */
export function entryStatements(db: { select: (...fields: any[]) => any }, tables: EntryTables, atomic: Atomicity) {
  const { entries } = tables;
  /** The event of an entry write and, when the change carries it, the request's audit record. */
  const appended = (tenantId: string, change: Change, event: NewEvent, now: number): Appended[] =>
    change.untracked
      ? []
      : [
          { table: tables.events, row: eventRow(tables.events, tenantId, event, change, now) },
          ...(change.audit
            ? [
                {
                  table: tables.auditEvents,
                  row: auditRow(
                    tables,
                    tenantId,
                    // As the audit middleware names a request's targets: the tenant, then the entry.
                    {
                      ...change.audit,
                      actor: change.actor,
                      targets: [{ type: "tenant", id: tenantId }, event.subject],
                    },
                    now,
                  ),
                },
              ]
            : []),
        ];
  const stateOf = (row: Record<string, unknown>) => canonicalRow(entryData, entryData.tables.sqlite, row);
  const where = entryPredicates(tables.entries, tables.entryTags);
  const reads = entryReads(db, tables);
  return {
    ...reads,

    async createEntry(tenantId: string, input: EntryInput, limits: StorageLimits, change: Change): Promise<Entry> {
      const now = change.at ?? Date.now();
      const entry = newEntryRow(tenantId, input, now);
      const event: NewEvent = { type: "entry.created", subject: { type: "entry", id: entry.id }, data: stateOf(entry) };
      try {
        const [row] = await atomic.withLimits<Entry>(
          tenantId,
          limits,
          (q) => q.insert(entries).values(entry).returning(),
          appended(tenantId, change, event, now),
        );
        return row as Entry;
      } catch (error) {
        throw quotaError(error, limits);
      }
    },

    /**
     * Replaces data and tags. The UPDATE itself carries the version it read, so two writers that
     * both read version N cannot both succeed; a loser with no If-Match (or `*`) simply tries again.
     */
    replaceEntry(
      tenantId: string,
      entryId: string,
      input: EntryInput,
      precondition: Precondition,
      limits: StorageLimits,
      change: Change,
    ): Promise<Entry> {
      const now = change.at ?? Date.now();
      return replaceOptimistically(
        () => reads.getEntry(tenantId, entryId),
        async (current) => {
          const replacement = replacementOf(input, current.version, now);
          const event: NewEvent = {
            type: "entry.replaced",
            subject: { type: "entry", id: entryId },
            data: stateOf({ ...current, ...replacement }),
          };
          try {
            const [row] = await atomic.withLimits<Entry>(
              tenantId,
              limits,
              (q) =>
                q
                  .update(entries)
                  .set(replacement)
                  .where(where.entry(tenantId, entryId, current.version))
                  .returning(),
              appended(tenantId, change, event, now),
            );
            return row;
          } catch (error) {
            throw quotaError(error, limits);
          }
        },
        precondition,
      );
    },

    deleteEntry(tenantId: string, entryId: string, precondition: Precondition, change: Change): Promise<void> {
      const now = change.at ?? Date.now();
      const event: NewEvent = { type: "entry.deleted", subject: { type: "entry", id: entryId }, data: { id: entryId } };
      return deleteChecked(
        () => reads.getEntry(tenantId, entryId),
        async (current, conditional) => {
          const deleted = await atomic.withUsage(
            tenantId,
            (q) =>
              q
                .delete(entries)
                .where(where.entry(tenantId, entryId, conditional ? current.version : undefined))
                .returning({ id: entries.id }),
            appended(tenantId, change, event, now),
          );
          return deleted.length;
        },
        precondition,
      );
    },
  };
}
