import { eq } from "drizzle-orm";
import type { ShardDb } from "../../db/client";
import { shardTenants } from "../../shards/tenant-table";
import { entries, entryTags } from "../table";
import { entryStatements } from "./entries";

// The entries on a D1 shard: a write is one batch, which D1 runs as one transaction; setting the
// tenant's storage limits in the same batch is what the shard's quota triggers check.

export const entriesOnD1 = (db: ShardDb) =>
  entryStatements(
    db,
    { entries, entryTags },
    {
      async withLimits(tenantId, limits, write) {
        const [, rows] = await db.batch([
          db
            .update(shardTenants)
            .set({ maxEntries: limits.maxEntries, maxStoredBytes: limits.maxStorageBytes })
            .where(eq(shardTenants.tenantId, tenantId)),
          write(db) as never,
        ]);
        return rows as Awaited<ReturnType<typeof write>>;
      },
      // One statement is atomic on its own; the usage triggers update the row in the same statement.
      withUsage: async (_, write) => write(db),
    },
  );
