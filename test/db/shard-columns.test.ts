import { getTableConfig as pgConfig } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteConfig } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import * as pgSchema from "../../src/db/shard-pg-tables";
import * as sqliteSchema from "../../src/db/shard-tables";

// Plain objects of the schema roots, walked by name.
const pg: Record<string, any> = { ...pgSchema };
const sqlite: Record<string, any> = { ...sqliteSchema };

/** A table's shape in engine-neutral terms: what must be the same on D1 and PostgreSQL. */
function shape(config: ReturnType<typeof sqliteConfig> | ReturnType<typeof pgConfig>) {
  return {
    name: config.name,
    columns: config.columns.map((c) => ({
      name: c.name,
      notNull: c.notNull,
      primary: c.primary,
      hasDefault: c.hasDefault,
      default: c.default,
    })),
    primaryKeys: config.primaryKeys.map((key) => key.columns.map((c) => c.name)),
    indexes: config.indexes.map((index) => ({
      name: index.config.name,
      columns: index.config.columns.map((c) => (c as { name: string }).name),
    })),
  };
}

describe("shard tables, declared once for both engines", () => {
  it("have the same tables, columns, keys and indexes on D1 and PostgreSQL", () => {
    expect(Object.keys(pg).sort()).toEqual(Object.keys(sqlite).sort());
    for (const name of Object.keys(sqlite)) {
      const d1 = shape(sqliteConfig(sqlite[name]));
      expect(shape(pgConfig(pg[name])), name).toEqual(d1);
      expect(d1.columns.length, name).toBeGreaterThan(2);
    }
  });

  it("keep the SQL types each engine needs: bytewise keys and 64-bit bytes on PostgreSQL", () => {
    const types = (name: string) => Object.fromEntries(pgConfig(pg[name]).columns.map((c) => [c.name, c.getSQLType()]));
    expect(types("entries")).toMatchObject({ id: 'text COLLATE "C"', data: "jsonb", created_at: "bigint" });
    expect(types("shardTenants")).toMatchObject({ stored_bytes: "bigint", entry_count: "integer" });
    const d1 = Object.fromEntries(sqliteConfig(sqliteSchema.entries).columns.map((c) => [c.name, c.getSQLType()]));
    expect(d1).toMatchObject({ id: "text", data: "text", created_at: "integer" });
  });
});
