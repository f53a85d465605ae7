import { createHash } from "node:crypto";
import canonicalize from "canonicalize";
import { type Column, getTableColumns, type Table } from "drizzle-orm";
import type { TableDataset } from "./dataset";

// The one form a dataset's rows take outside their database (exports, checksums, diffs), the
// same whichever engine or driver read them.

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A dataset row as plain JSON: its columns in table order, keyed by SQL name, omitted ones left out. */
export type CanonicalRow = Record<string, JsonValue>;

const isPlainObject = (value: object) => {
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
};

const notJson = (value: unknown, at: string) => new TypeError(`${at} is not a JSON value: ${String(value)}`);

/** Throws unless `value` is JSON: no undefined, NaN, Date, bigint or other object than a plain one. */
function assertJson(value: unknown, at: string): void {
  if (value === null || typeof value === "string" || typeof value === "boolean") return;
  if (typeof value === "number" && Number.isFinite(value)) return;
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) assertJson(item, `${at}[${i}]`);
    return;
  }
  if (typeof value === "object" && isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) assertJson(item, `${at}.${key}`);
    return;
  }
  throw notJson(value, at);
}

/**
 * RFC 8785 (JCS) JSON text, by the `canonicalize` package: object keys sorted by UTF-16 code units
 * at every depth, no whitespace, numbers as ECMAScript writes them. Equal values give equal text
 * whatever order an engine kept their keys in (PostgreSQL's jsonb does not keep it). Anything that
 * is not JSON (undefined, NaN, a Date, a bigint) throws rather than being written as something else.
 *
 * @example canonicalJson({ b: 1, a: [true, { d: null, c: "x" }] }) === '{"a":[true,{"c":"x","d":null}],"b":1}'
 */
export function canonicalJson(value: unknown, at = "value"): string {
  assertJson(value, at);
  return canonicalize(value) as string;
}

/** A column's value as JSON: a driver's other types (a Date, a bigint, bytes) are refused, not converted. */
function columnValue(value: unknown, at: string): JsonValue {
  if (value === null || typeof value === "string" || typeof value === "boolean") return value;
  if (typeof value === "number" && Number.isFinite(value)) return value;
  // A JSON column's parsed value.
  if (Array.isArray(value) || (typeof value === "object" && isPlainObject(value))) return value as JsonValue;
  throw notJson(value, at);
}

/** The columns of `table` a copy of `dataset` carries (every one but the omitted), by column key. */
export function copiedColumns<T extends Table>(dataset: TableDataset, table: T): [string, T["_"]["columns"][string]][] {
  const omit = dataset.omit ?? [];
  const columns = getTableColumns(table) as Record<string, T["_"]["columns"][string]>;
  return Object.entries(columns).filter(([key]) => !omit.includes(key));
}

/** The canonical form of a row of `table` as drizzle reads it (keyed by column key, JSON columns parsed). */
export function canonicalRow(dataset: TableDataset, table: Table, row: Record<string, unknown>): CanonicalRow {
  const canonical: CanonicalRow = {};
  for (const [key, column] of copiedColumns(dataset, table)) {
    canonical[column.name] = columnValue(row[key], `${dataset.name}.${column.name}`);
  }
  return canonical;
}

/** The row's order key (see TableDataset.orderKey), the `after` of the page that follows it. */
export function orderKeyOf(dataset: TableDataset, row: CanonicalRow): JsonValue[] {
  const columns = getTableColumns(dataset.tables.sqlite) as Record<string, Column>;
  return dataset.orderKey.map((key) => row[(columns[key] as Column).name] ?? null);
}

/**
 * A SHA-256 over rows given one at a time: the hex digest of, for each row in order, its
 * canonicalJson followed by "\n". No rows give the digest of the empty string.
 */
export class RowChecksum {
  private readonly hash = createHash("sha256");
  rows = 0;

  add(row: unknown) {
    this.hash.update(canonicalJson(row));
    this.hash.update("\n");
    this.rows++;
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}

/** RowChecksum's digest of `rows`, for rows already in memory. */
export function checksumOf(rows: Iterable<unknown>): string {
  const checksum = new RowChecksum();
  for (const row of rows) checksum.add(row);
  return checksum.digest();
}
