import { drizzle } from "drizzle-orm/d1";
import { auditOnD1 } from "../audit/engines/d1";
import type { ShardDb } from "../db/client";
import * as shardSchema from "../db/shard-tables";
import { entriesOnD1 } from "../entries/engines/d1";
import { feedOnD1 } from "../events/engines/d1";
import { d1Shard } from "./engines/d1";
import { d1Refusal } from "./refusals";
import { type ShardStore, wrapEach } from "./store";

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
  const shard = d1Shard(db);
  const entries = entriesOnD1(db);
  // A statement refused for its values is the request's answer, not the shard failing.
  const answer = <T>(result: Promise<T> | (() => Promise<T>)): Promise<T> =>
    (typeof result === "function" ? result() : result).catch((error: unknown) => {
      throw d1Refusal(error);
    });
  return {
    engine: "d1",
    createEntry: (tenantId, input, limits, change) => answer(entries.createEntry(tenantId, input, limits, change)),
    getEntry: (tenantId, entryId) => answer(entries.getEntry(tenantId, entryId)),
    listEntries: (tenantId, filter, page) => answer(entries.listEntries(tenantId, filter, page)),
    replaceEntry: (tenantId, entryId, input, precondition, limits, change) =>
      answer(entries.replaceEntry(tenantId, entryId, input, precondition, limits, change)),
    deleteEntry: (tenantId, entryId, precondition, change) =>
      answer(entries.deleteEntry(tenantId, entryId, precondition, change)),
    registerTenant: (tenantId, now) => answer(shard.registerTenant(tenantId, now)),
    storageOf: (tenantId) => answer(shard.storageOf(tenantId)),
    totals: () => shard.totals(),
    rows: (dataset, tenantId, after, limit) => answer(shard.rows(dataset, tenantId, after, limit)),
    versions: (dataset, tenantId, after, limit) => answer(shard.versions(dataset, tenantId, after, limit)),
    keyRange: (dataset, tenantId) => answer(shard.keyRange(dataset, tenantId)),
    countRows: (dataset, tenantId) => answer(shard.countRows(dataset, tenantId)),
    readRows: (dataset, tenantId, keys) => answer(shard.readRows(dataset, tenantId, keys)),
    importRows: (dataset, tenantId, rows) => answer(shard.importRows(dataset, tenantId, rows)),
    applyChanges: (dataset, tenantId, changes) => answer(shard.applyChanges(dataset, tenantId, changes)),
    removeRows: (dataset, tenantId, keys) => answer(shard.removeRows(dataset, tenantId, keys)),
    purgeTenant: (tenantId, limit) => answer(shard.purgeTenant(tenantId, limit)),
    feed: wrapEach(feedOnD1(db), answer),
    trail: wrapEach(auditOnD1(db), answer),
    bookmark: () => session.getBookmark(),
    close: async () => undefined,
  };
}
