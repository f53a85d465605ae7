import { eq, sql } from "drizzle-orm";
import { auditCheckpoints, auditEvents } from "../../audit/table";
import type { ShardDb } from "../../db/client";
import { selectRowWhere } from "../../db/sql";
import type { Appended } from "../../events/change";
import { events } from "../../events/table";
import { shardTenants } from "../../shards/tenant-table";
import { entries, entryTags } from "../table";
import { entryStatements } from "./entries";

// The entries on a D1 shard: a write is one batch, which D1 runs as one transaction; setting the
// tenant's storage limits in the same batch is what the shard's quota triggers check.

/**
 * Each appended row is inserted only if the statement before it changed a row (SQLite's
 * changes(), which does not count the triggers' own writes): the write for the first, the
 * previous appended row for the next, so a write that matched nothing appends nothing.
 */
const appendAfter = (db: ShardDb, appended: Appended[]) =>
  appended.map(({ table, row }) => db.insert(table).select(selectRowWhere(table, row, sql`changes() = 1`, "sqlite")));

export const entriesOnD1 = (db: ShardDb) =>
  entryStatements(
    db,
    { entries, entryTags, events, auditEvents, auditCheckpoints },
    {
      async withLimits(tenantId, limits, write, appended) {
        const [, rows] = await db.batch([
          db
            .update(shardTenants)
            .set({ maxEntries: limits.maxEntries, maxStoredBytes: limits.maxStorageBytes })
            .where(eq(shardTenants.tenantId, tenantId)),
          write(db) as never,
          ...appendAfter(db, appended),
        ]);
        return rows as Awaited<ReturnType<typeof write>>;
      },
      async withUsage(_, write, appended) {
        const [rows] = await db.batch([write(db) as never, ...appendAfter(db, appended)]);
        return rows as Awaited<ReturnType<typeof write>>;
      },
    },
  );
