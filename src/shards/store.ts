import type { TrailStatements } from "../audit/engines/trail";
import type { DatasetRow, RowVersion, TableDataset } from "../datasets/dataset";
import type { Page } from "../db/keyset";
import type { Entry } from "../entries/table";
import type { Change } from "../events/change";
import type { FeedStatements } from "../events/engines/feed";
import type { ChangeOrigin, NewEvent } from "../events/event";
import type { TenantLimits } from "../routing/route";
import type { ShardEngine } from "./table";

export type EntryInput = { data: Record<string, unknown>; tags: string[] };
/** The versions an If-Match or If-None-Match header names ("*" = any version). */
export type EntityTags = number[] | "*";
/**
 * A write's conditions: it goes ahead only if the entry's version is among `ifMatch` and not
 * among `ifNoneMatch` (each checked only when given). `undefined`: unconditional.
 */
export type Precondition = { ifMatch?: EntityTags; ifNoneMatch?: EntityTags } | undefined;
export type StorageLimits = Pick<TenantLimits, "maxEntries" | "maxStorageBytes">;
export type EntryPage = Page<Entry>;
/** Rows written exactly as given and keys deleted, with the events that announce them (a restore in place). */
export type AnnouncedChanges = {
  rows: Record<string, unknown>[];
  removes: string[];
  events: NewEvent[];
  origin: ChangeOrigin;
  at: number;
};
export type TenantStorage = {
  entryCount: number;
  storedBytes: number;
  maxEntries: number | null;
  maxStoredBytes: number | null;
};

/**
 * One open connection to one shard, whatever its engine: the data plane's single interface.
 * Every method takes the tenant id first and touches only that tenant's rows. Domain failures are
 * AppErrors (not-found, precondition-failed, conflict, storage-quota-exceeded); anything else is
 * the shard failing.
 */
export interface ShardStore {
  readonly engine: ShardEngine;
  // Writes commit the change's event (and its audit record, when the change carries one) with it.
  createEntry(tenantId: string, input: EntryInput, limits: StorageLimits, change: Change): Promise<Entry>;
  getEntry(tenantId: string, entryId: string): Promise<Entry>;
  /** Newest first, keyset-paginated on the id (ULIDs sort by creation time). */
  listEntries(tenantId: string, filter: { tag?: string }, page: { limit: number; after?: string }): Promise<EntryPage>;
  replaceEntry(
    tenantId: string,
    entryId: string,
    input: EntryInput,
    precondition: Precondition,
    limits: StorageLimits,
    change: Change,
  ): Promise<Entry>;
  deleteEntry(tenantId: string, entryId: string, precondition: Precondition, change: Change): Promise<void>;
  /** Records the tenant on the shard (idempotent); usage counters start at zero. */
  registerTenant(tenantId: string, now?: number): Promise<void>;
  /** The tenant's usage counters as the shard keeps them; null if the tenant is not registered. */
  storageOf(tenantId: string): Promise<TenantStorage | null>;
  /** Sums over every tenant of the shard, for probes. */
  totals(): Promise<{ tenants: number; entryCount: number; storedBytes: number }>;
  /**
   * Where this connection's reads and writes have got to, for the client to send back so its next
   * read sees at least that (D1 read replicas); null where reads always see the latest (PostgreSQL).
   */
  bookmark(): string | null;
  // The tenant's rows of any shard dataset (src/datasets), walked in key order and written back
  // exactly as they were: what moves copy, and export, backup and restore will.
  /** Up to `limit` whole rows with a key above `after` (null: from the first), ascending. */
  rows<D extends TableDataset>(
    dataset: D,
    tenantId: string,
    after: string | null,
    limit: number,
  ): Promise<DatasetRow<D>[]>;
  /** The same walk, only each row's key and version: what a diff between two copies needs. */
  versions(dataset: TableDataset, tenantId: string, after: string | null, limit: number): Promise<RowVersion[]>;
  countRows(dataset: TableDataset, tenantId: string): Promise<number>;
  /** The tenant's first and last key in the dataset (as keyOf writes them), or null when it has no row. */
  keyRange(dataset: TableDataset, tenantId: string): Promise<{ first: string; last: string } | null>;
  /** The rows among `keys` that exist, in any order. */
  readRows<D extends TableDataset>(dataset: D, tenantId: string, keys: string[]): Promise<DatasetRow<D>[]>;
  /**
   * Writes the rows exactly as given (keys, versions, timestamps), inserting or overwriting, in one
   * transaction. Clears the tenant's stored max_* first: a copy is never refused by a quota (the
   * next API write sets them again). The tenant must be registered.
   */
  importRows(dataset: TableDataset, tenantId: string, rows: Record<string, unknown>[]): Promise<void>;
  /**
   * Writes `rows` (as importRows does) and deletes `removes`, with the events announcing them, in
   * one transaction: the feed has a change iff it committed.
   */
  applyChanges(dataset: TableDataset, tenantId: string, changes: AnnouncedChanges): Promise<void>;
  /** Deletes these rows (absent ones are ignored). */
  removeRows(dataset: TableDataset, tenantId: string, keys: string[]): Promise<void>;
  /**
   * Deletes up to `limit` rows of each of the tenant's shard datasets and returns how many went;
   * once none are left, unregisters the tenant too, so 0 means the shard holds nothing of it.
   */
  purgeTenant(tenantId: string, limit: number): Promise<number>;
  /** The tenants' event feeds on this shard (src/events): what the relay publishes and readers page. */
  readonly feed: FeedStatements;
  /** The tenants' audit trails on this shard (src/audit). */
  readonly trail: TrailStatements;
  /** Releases the connection (a no-op for D1). */
  close(): Promise<void>;
}

/** Every method of `statements` passed through `wrap` (a store's error mapping, its one-at-a-time queue). */
export function wrapEach<T extends Record<string, (...args: any[]) => Promise<unknown>>>(
  statements: T,
  wrap: <R>(run: () => Promise<R>) => Promise<R>,
): T {
  return Object.fromEntries(
    Object.entries(statements).map(([name, method]) => [name, (...args: unknown[]) => wrap(() => method(...args))]),
  ) as T;
}
