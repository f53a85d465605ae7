import { count, eq, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { ShardDb } from "../db/client";
import * as shardSchema from "../db/shard-tables";
import {
  createEntry,
  deleteEntry,
  entryVersions,
  exportEntries,
  getEntry,
  importEntries,
  listEntries,
  purgeTenant,
  readEntries,
  removeEntries,
  replaceEntry,
} from "../entries/service";
import { d1Refusal } from "./refusals";
import type { ShardStore } from "./store";
import { shardTenants } from "./tenant-table";

/**
 * Where a D1 session starts: after the client's bookmark (it reads its own writes), on any replica
 * for other reads, on the primary for writes (their reads, e.g. the version an If-Match is checked
 * against, must not come from a replica that is behind).
 */
export type SessionStart = { bookmark: string | null; write: boolean };

/**
 * The D1 engine of the data plane: a D1 database binding behind the ShardStore interface, through
 * the Sessions API so reads can go to read replicas while staying sequentially consistent.
 */
export function d1Store(database: D1Database, start: SessionStart = { bookmark: null, write: true }): ShardStore {
  const session = database.withSession(start.bookmark ?? (start.write ? "first-primary" : "first-unconstrained"));
  // drizzle needs only prepare() and batch(), which a session has.
  const db: ShardDb = drizzle(session as unknown as D1Database, { schema: shardSchema });
  // A statement refused for its values is the request's answer, not the shard failing.
  const answer = <T>(result: Promise<T>): Promise<T> =>
    result.catch((error: unknown) => {
      throw d1Refusal(error);
    });
  return {
    engine: "d1",
    createEntry: (tenantId, input, limits, now) => answer(createEntry(db, tenantId, input, limits, now)),
    getEntry: (tenantId, entryId) => answer(getEntry(db, tenantId, entryId)),
    listEntries: (tenantId, filter, page) => answer(listEntries(db, tenantId, filter, page)),
    replaceEntry: (tenantId, entryId, input, precondition, limits, now) =>
      answer(replaceEntry(db, tenantId, entryId, input, precondition, limits, now)),
    deleteEntry: (tenantId, entryId, precondition) => answer(deleteEntry(db, tenantId, entryId, precondition)),
    async registerTenant(tenantId, now = Date.now()) {
      await answer(db.insert(shardTenants).values({ tenantId, provisionedAt: now }).onConflictDoNothing());
    },
    async storageOf(tenantId) {
      const row = await answer(db.query.shardTenants.findFirst({ where: eq(shardTenants.tenantId, tenantId) }));
      return row
        ? {
            entryCount: row.entryCount,
            storedBytes: row.storedBytes,
            maxEntries: row.maxEntries,
            maxStoredBytes: row.maxStoredBytes,
          }
        : null;
    },
    async totals() {
      const [row] = await db
        .select({
          tenants: count(),
          entryCount: sql<number>`coalesce(sum(${shardTenants.entryCount}), 0)`,
          storedBytes: sql<number>`coalesce(sum(${shardTenants.storedBytes}), 0)`,
        })
        .from(shardTenants);
      return {
        tenants: Number(row?.tenants ?? 0),
        entryCount: Number(row?.entryCount ?? 0),
        storedBytes: Number(row?.storedBytes ?? 0),
      };
    },
    exportEntries: (tenantId, after, limit) => answer(exportEntries(db, tenantId, after, limit)),
    entryVersions: (tenantId, after, limit) => answer(entryVersions(db, tenantId, after, limit)),
    readEntries: (tenantId, ids) => answer(readEntries(db, tenantId, ids)),
    importEntries: (tenantId, rows) => answer(importEntries(db, tenantId, rows)),
    removeEntries: (tenantId, ids) => answer(removeEntries(db, tenantId, ids)),
    purgeTenant: (tenantId, limit) => answer(purgeTenant(db, tenantId, limit)),
    bookmark: () => session.getBookmark(),
    close: async () => undefined,
  };
}
