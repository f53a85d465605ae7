import { drizzle } from "drizzle-orm/node-postgres";
import pg from "pg";
import { auditOnPg } from "../audit/engines/pg";
import type { PgShardDb } from "../db/client";
import * as shardPgSchema from "../db/shard-pg-tables";
import { entriesOnPg } from "../entries/engines/pg";
import { feedOnPg } from "../events/engines/pg";
import { pgShard } from "./engines/pg";
import { pgRefusal } from "./refusals";
import { type ShardStore, wrapEach } from "./store";

/**
 * Connects one node-postgres client for the current request only: workerd refuses I/O on a socket
 * opened by another request, so a client is never shared or pooled here (Hyperdrive pools).
 */
export async function connectPg(connectionString: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString });
  // Required in workerd: end() closes the socket under a pending read, which pg re-emits as an
  // 'error' event, and an EventEmitter without a listener turns it into an unhandled rejection.
  // Failures of queries still reach their callers as rejections.
  client.on("error", () => {});
  await client.connect();
  return client;
}

/**
 * The PostgreSQL engine of the data plane: a shard reached through a Hyperdrive connection string,
 * with the same semantics as the D1 engine (src/shards/d1-store.ts). The shard must be migrated
 * (src/shards/pg-migrate.ts). The caller closes the store, which ends its connection.
 */
export async function openPgShard(connectionString: string): Promise<ShardStore> {
  const client = await connectPg(connectionString);
  const db: PgShardDb = drizzle(client, { schema: shardPgSchema });
  const shard = pgShard(db);
  const entries = entriesOnPg(db);
  const serial = oneAtATime();
  // A statement refused for its values is the request's answer, not the shard failing.
  const one = <T>(run: () => Promise<T>): Promise<T> =>
    serial(run).catch((error: unknown) => {
      throw pgRefusal(error);
    });
  return {
    engine: "postgres",
    createEntry: (tenantId, input, limits, change) => one(() => entries.createEntry(tenantId, input, limits, change)),
    getEntry: (tenantId, entryId) => one(() => entries.getEntry(tenantId, entryId)),
    listEntries: (tenantId, filter, page) => one(() => entries.listEntries(tenantId, filter, page)),
    replaceEntry: (tenantId, entryId, input, precondition, limits, change) =>
      one(() => entries.replaceEntry(tenantId, entryId, input, precondition, limits, change)),
    deleteEntry: (tenantId, entryId, precondition, change) =>
      one(() => entries.deleteEntry(tenantId, entryId, precondition, change)),
    registerTenant: (tenantId, now) => one(() => shard.registerTenant(tenantId, now)),
    storageOf: (tenantId) => one(() => shard.storageOf(tenantId)),
    totals: () => one(() => shard.totals()),
    rows: (dataset, tenantId, after, limit) => one(() => shard.rows(dataset, tenantId, after, limit)),
    versions: (dataset, tenantId, after, limit) => one(() => shard.versions(dataset, tenantId, after, limit)),
    keyRange: (dataset, tenantId) => one(() => shard.keyRange(dataset, tenantId)),
    countRows: (dataset, tenantId) => one(() => shard.countRows(dataset, tenantId)),
    readRows: (dataset, tenantId, keys) => one(() => shard.readRows(dataset, tenantId, keys)),
    importRows: (dataset, tenantId, rows) => one(() => shard.importRows(dataset, tenantId, rows)),
    applyChanges: (dataset, tenantId, changes) => one(() => shard.applyChanges(dataset, tenantId, changes)),
    removeRows: (dataset, tenantId, keys) => one(() => shard.removeRows(dataset, tenantId, keys)),
    purgeTenant: (tenantId, limit) => one(() => shard.purgeTenant(tenantId, limit)),
    feed: wrapEach(feedOnPg(db), one),
    trail: wrapEach(auditOnPg(db), one),
    bookmark: () => null,
    close: () => serial(() => client.end()),
  };
}

/**
 * Runs the store's calls one after another: they share one connection, where two concurrent
 * transactions would interleave their statements (one's COMMIT committing the other's half).
 */
function oneAtATime() {
  let last: Promise<unknown> = Promise.resolve();
  return <T>(run: () => Promise<T>): Promise<T> => {
    const result = last.then(run, run);
    last = result.catch(() => undefined);
    return result;
  };
}
