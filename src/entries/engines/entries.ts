import type { EntryInput, Precondition, StorageLimits } from "../../shards/store";
import { entryPredicates } from "../predicates";
import { deleteChecked, newEntryRow, quotaError, replacementOf, replaceOptimistically } from "../rules";
import type { Entry } from "../table";
import { entryReads } from "./reads";

/** A write's statement, built on whichever handle the engine runs it on (its db, a transaction). */
type Write<T> = (q: any) => PromiseLike<T[]>;

/**
 * How an engine makes an entry write atomic, the one thing the engines do differently: D1 runs
 * a batch, PostgreSQL a transaction that takes the tenant's usage row first.
 */
export type Atomicity = {
  /** Runs `write` in one transaction after setting the tenant's storage limits its triggers enforce. */
  withLimits<T>(tenantId: string, limits: StorageLimits, write: Write<T>): Promise<T[]>;
  /** Runs `write` in one transaction with the tenant's usage row held. */
  withUsage<T>(tenantId: string, write: Write<T>): Promise<T[]>;
};

/** The entries of a shard, through either engine's drizzle client, tables and atomicity. */
export function entryStatements(
  db: { select: (...fields: any[]) => any },
  tables: { entries: any; entryTags: any },
  atomic: Atomicity,
) {
  const { entries } = tables;
  const where = entryPredicates(tables.entries, tables.entryTags);
  const reads = entryReads(db, tables);
  return {
    ...reads,

    async createEntry(tenantId: string, input: EntryInput, limits: StorageLimits, now = Date.now()): Promise<Entry> {
      try {
        const [row] = await atomic.withLimits<Entry>(tenantId, limits, (q) =>
          q
            .insert(entries)
            .values(newEntryRow(tenantId, input, now))
            .returning(),
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
      now = Date.now(),
    ): Promise<Entry> {
      return replaceOptimistically(
        () => reads.getEntry(tenantId, entryId),
        async (current) => {
          try {
            const [row] = await atomic.withLimits<Entry>(tenantId, limits, (q) =>
              q
                .update(entries)
                .set(replacementOf(input, current.version, now))
                .where(where.entry(tenantId, entryId, current.version))
                .returning(),
            );
            return row;
          } catch (error) {
            throw quotaError(error, limits);
          }
        },
        precondition,
      );
    },

    deleteEntry(tenantId: string, entryId: string, precondition: Precondition): Promise<void> {
      return deleteChecked(
        () => reads.getEntry(tenantId, entryId),
        async (current, conditional) => {
          const deleted = await atomic.withUsage(tenantId, (q) =>
            q
              .delete(entries)
              .where(where.entry(tenantId, entryId, conditional ? current.version : undefined))
              .returning({ id: entries.id }),
          );
          return deleted.length;
        },
        precondition,
      );
    },
  };
}
