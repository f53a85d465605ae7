import {
  bigint,
  customType,
  jsonb,
  type PgColumnBuilderBase,
  index as pgIndex,
  integer as pgInteger,
  primaryKey as pgPrimaryKey,
  pgTable,
} from "drizzle-orm/pg-core";
import {
  type SQLiteColumnBuilderBase,
  index as sqliteIndex,
  integer as sqliteInteger,
  primaryKey as sqlitePrimaryKey,
  sqliteTable,
  text,
} from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "./columns";

// A shard table is declared once, as a column spec that makes both engines' drizzle tables: the
// columns, their SQL names and JS types cannot drift apart. Only the SQL types differ by engine.

/**
 * Text compared byte by byte on PostgreSQL, as SQLite compares it: keyset pages over ULID ids and
 * tags then order the same on both engines, whatever collation the database was created with.
 */
const binaryText = customType<{ data: string; driverData: string }>({ dataType: () => 'text COLLATE "C"' });

/** JSON in a text column, written by JSON.stringify as SQLite's json mode writes it. */
const pgJsonText = <T>(name: string) =>
  customType<{ data: T; driverData: string }>({
    dataType: () => 'text COLLATE "C"',
    toDriver: (value) => JSON.stringify(value),
    fromDriver: (value) => JSON.parse(value) as T,
  })(name);

/** Epoch milliseconds as a JS number on PostgreSQL (bigint: past 2038 in ms needs 64 bits). */
const pgEpochMs = (name: string) => bigint(name, { mode: "number" });

type Both = { sqlite: SQLiteColumnBuilderBase; pg: PgColumnBuilderBase };

/** The column kinds of shard tables, each as it is on SQLite (D1) and on PostgreSQL. */
export const shardColumn = {
  /** An id, tag or other key text. */
  key: (name: string) => ({ sqlite: text(name).notNull(), pg: binaryText(name).notNull() }),
  optionalKey: (name: string) => ({ sqlite: text(name), pg: binaryText(name) }),
  primaryKey: (name: string) => ({ sqlite: text(name).primaryKey(), pg: binaryText(name).primaryKey() }),
  json: <T>(name: string) => ({ sqlite: jsonText<T>(name).notNull(), pg: jsonb(name).$type<T>().notNull() }),
  /** JSON kept as the text it was written as on both engines, so LIKE can search it. */
  jsonText: <T>(name: string) => ({ sqlite: jsonText<T>(name).notNull(), pg: pgJsonText<T>(name).notNull() }),
  int: (name: string) => ({ sqlite: sqliteInteger(name).notNull(), pg: pgInteger(name).notNull() }),
  optionalInt: (name: string) => ({ sqlite: sqliteInteger(name), pg: pgInteger(name) }),
  counter: (name: string) => ({
    sqlite: sqliteInteger(name).notNull().default(0),
    pg: pgInteger(name).notNull().default(0),
  }),
  /** A byte count: 64-bit on PostgreSQL (SQLite's INTEGER is 64-bit already). */
  bytes: (name: string) => ({
    sqlite: sqliteInteger(name).notNull().default(0),
    pg: bigint(name, { mode: "number" }).notNull().default(0),
  }),
  optionalBytes: (name: string) => ({ sqlite: sqliteInteger(name), pg: bigint(name, { mode: "number" }) }),
  epochMs: (name: string) => ({ sqlite: epochMs(name).notNull(), pg: pgEpochMs(name).notNull() }),
  optionalEpochMs: (name: string) => ({ sqlite: epochMs(name), pg: pgEpochMs(name) }),
} satisfies Record<string, (name: string) => Both>;

type Spec = Record<string, Both>;
type On<S extends Spec, E extends keyof Both> = { [K in keyof S]: S[K][E] };

/** Keys and indexes, named by column key, the same on both engines. */
type Extra<S extends Spec> = {
  primaryKey?: (keyof S & string)[];
  indexes?: Record<string, (keyof S & string)[]>;
};

const on = <S extends Spec, E extends keyof Both>(spec: S, engine: E) =>
  Object.fromEntries(Object.entries(spec).map(([key, both]) => [key, both[engine]])) as On<S, E>;

/** The shard table `name` on both engines, from one spec. */
export function shardTable<N extends string, S extends Spec>(name: N, spec: S, extra: Extra<S> = {}) {
  const columnsOf = (t: Record<string, any>, keys: string[]) => keys.map((key) => t[key]);
  const sqlite = sqliteTable(name, on(spec, "sqlite"), (t: Record<string, any>) => [
    ...(extra.primaryKey ? [sqlitePrimaryKey({ columns: columnsOf(t, extra.primaryKey) as [any, ...any[]] })] : []),
    ...Object.entries(extra.indexes ?? {}).map(([index, keys]) =>
      sqliteIndex(index).on(...(columnsOf(t, keys) as [any, ...any[]])),
    ),
  ]);
  const pg = pgTable(name, on(spec, "pg"), (t: Record<string, any>) => [
    ...(extra.primaryKey ? [pgPrimaryKey({ columns: columnsOf(t, extra.primaryKey) as [any, ...any[]] })] : []),
    ...Object.entries(extra.indexes ?? {}).map(([index, keys]) =>
      pgIndex(index).on(...(columnsOf(t, keys) as [any, ...any[]])),
    ),
  ]);
  return { sqlite, pg };
}
