import { getTableColumns, getTableName, type Table } from "drizzle-orm";
import { getTableConfig as pgConfig } from "drizzle-orm/pg-core";
import { getTableConfig as sqliteConfig, sqliteTable, text } from "drizzle-orm/sqlite-core";
import { describe, expect, it } from "vitest";
import { undeclaredTenantTables } from "../../src/datasets/coverage";
import type { TableDataset } from "../../src/datasets/dataset";
import { DATASETS, datasetsIn } from "../../src/datasets/registry";
import * as control from "../../src/db/control-tables";
import * as shardPg from "../../src/db/shard-pg-tables";
import * as shard from "../../src/db/shard-tables";

const tableDatasets = DATASETS.filter((dataset): dataset is TableDataset => dataset.home !== "gate");

/** Each of the dataset's tables with its engine's config. */
const tablesOf = (dataset: TableDataset) => [
  { engine: "sqlite", table: dataset.tables.sqlite as Table, config: sqliteConfig(dataset.tables.sqlite) },
  ...(dataset.tables.pg
    ? [{ engine: "pg", table: dataset.tables.pg as Table, config: pgConfig(dataset.tables.pg) }]
    : []),
];

describe("the dataset registry", () => {
  it("declares every table of every schema root that holds tenant data", () => {
    expect(undeclaredTenantTables([control, shard, shardPg], DATASETS)).toEqual([]);
  });

  it("would report a new table with a tenant_id, or another tenants table, that no dataset declares", () => {
    const scratchNotes = sqliteTable("scratch_notes", { id: text("id").primaryKey(), tenantId: text("tenant_id") });
    const scratchPlain = sqliteTable("scratch_plain", { id: text("id").primaryKey() });
    const otherTenants = sqliteTable("tenants", { id: text("id").primaryKey() });
    expect(undeclaredTenantTables([control, { scratchNotes, scratchPlain }], DATASETS)).toEqual(["scratch_notes"]);
    expect(undeclaredTenantTables([{ otherTenants }, shard], DATASETS)).toEqual(["tenants"]);
    expect(undeclaredTenantTables([control], [])).toEqual([
      "tenant_archives",
      "dead_letters",
      "event_cursors",
      "outbox",
      "flag_overrides",
      "circuit_states",
      "api_keys",
      "metric_minutes",
      "metric_tenant_totals",
      "slow_queries",
      "tenant_moves",
      "quota_trips",
      "tenant_restores",
      "stream_counters",
      "stream_tickets",
      "tenants",
      "usage_daily",
      "usage_hourly",
      "usage_records",
      "users",
      "webhook_attempts",
      "webhook_endpoints",
      "webhook_messages",
    ]);
  });

  it("takes each dataset's tables from its home's schema roots", () => {
    const exported = (root: Record<string, unknown>) => new Set(Object.values(root));
    for (const dataset of tableDatasets) {
      if (dataset.home === "control") {
        expect(exported(control).has(dataset.tables.sqlite), dataset.name).toBe(true);
        expect(dataset.tables.pg, dataset.name).toBeUndefined();
      } else {
        expect(exported(shard).has(dataset.tables.sqlite), dataset.name).toBe(true);
        expect(exported(shardPg).has(dataset.tables.pg), dataset.name).toBe(true);
      }
    }
  });

  it("names columns that exist on every engine of the dataset", () => {
    for (const dataset of tableDatasets) {
      const keys = [
        ...dataset.orderKey,
        ...(dataset.version ? [dataset.version] : []),
        ...(dataset.tenantKey ? [dataset.tenantKey] : []),
        ...(dataset.omit ?? []),
      ];
      expect(dataset.orderKey.length, dataset.name).toBeGreaterThan(0);
      for (const { engine, table } of tablesOf(dataset)) {
        const columns = Object.keys(getTableColumns(table));
        expect(
          keys.filter((key) => !columns.includes(key)),
          `${dataset.name} (${engine})`,
        ).toEqual([]);
        expect(dataset.omit?.filter((key) => dataset.orderKey.includes(key)) ?? [], dataset.name).toEqual([]);
      }
    }
  });

  it("has the SQL names of both engines' tables and columns agree", () => {
    for (const dataset of tableDatasets.filter((d) => d.tables.pg)) {
      const [sqlite, pg] = tablesOf(dataset);
      const names = (table: Table | undefined) =>
        table ? Object.entries(getTableColumns(table)).map(([key, column]) => [key, column.name]) : [];
      expect(getTableName(pg?.table as Table), dataset.name).toBe(getTableName(sqlite?.table as Table));
      expect(names(pg?.table), dataset.name).toEqual(names(sqlite?.table));
    }
  });

  it("says for each dataset how its rows name their tenant", () => {
    for (const dataset of tableDatasets) {
      expect([dataset.tenantKey !== undefined, dataset.owned !== undefined], dataset.name).toContain(true);
    }
  });

  it("orders each dataset by a key unique among the tenant's rows: the primary key, less the tenant column", () => {
    for (const dataset of tableDatasets) {
      for (const { engine, table, config } of tablesOf(dataset)) {
        const primary = (config.primaryKeys[0]?.columns ?? config.columns.filter((column) => column.primary)).map(
          (column) => column.name,
        );
        const columns = getTableColumns(table);
        const named = [...dataset.orderKey, ...(dataset.tenantKey ? [dataset.tenantKey] : [])].map(
          (key) => columns[key]?.name,
        );
        expect(primary.length, `${dataset.name} (${engine})`).toBeGreaterThan(0);
        expect(
          primary.filter((name) => !named.includes(name)),
          `${dataset.name} (${engine})`,
        ).toEqual([]);
      }
    }
  });

  it("lists datasets after those their foreign keys point to (purges go backwards, imports forwards)", () => {
    const position = new Map(
      tableDatasets.map((dataset) => [dataset.tables.sqlite as unknown, DATASETS.indexOf(dataset)]),
    );
    for (const dataset of tableDatasets) {
      for (const foreignKey of sqliteConfig(dataset.tables.sqlite).foreignKeys) {
        const target = position.get(foreignKey.reference().foreignTable);
        if (target !== undefined) expect(target, dataset.name).toBeLessThan(DATASETS.indexOf(dataset));
      }
    }
    // api_keys → users → tenants, each of which a dataset declares.
    expect(tableDatasets.map((dataset) => dataset.name).slice(0, 3)).toEqual(["tenant", "users", "api-keys"]);
  });

  it("gives every dataset its own name, and every gate storage table once", () => {
    const names = DATASETS.map((dataset) => dataset.name);
    expect(new Set(names).size).toBe(names.length);
    for (const dataset of DATASETS) {
      if (dataset.home === "gate") expect(new Set(dataset.storage).size).toBe(dataset.storage.length);
    }
  });

  it("leaves the datasets derived by triggers out of each home's list", () => {
    expect(datasetsIn("control").map((dataset) => dataset.name)).toEqual([
      "tenant",
      "users",
      "api-keys",
      "moves",
      "archives",
      "restores",
      "idempotency-records",
      "outbox",
      "event-cursor",
      "dead-letters",
      "metric-minutes",
      "metric-totals",
      "slow-queries",
      "usage-record-ids",
      "usage-hours",
      "usage-days",
      "quota-trips",
      "circuit-states",
      "flag-overrides",
      "webhook-endpoints",
      "webhook-messages",
      "webhook-attempts",
      "stream-tickets",
      "stream-counters",
    ]);
    expect(datasetsIn("shard").map((dataset) => dataset.name)).toEqual([
      "entries",
      "events",
      "audit-events",
      "audit-checkpoints",
    ]);
  });
});
