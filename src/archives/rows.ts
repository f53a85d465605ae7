import { type Column, getTableColumns } from "drizzle-orm";
import { type CanonicalRow, canonicalRow, orderKeyOf } from "../datasets/canonical";
import { controlRows } from "../datasets/control";
import { type Dataset, keyOf, type TableDataset } from "../datasets/dataset";
import { exportGate } from "../datasets/gate";
import { DATASETS } from "../datasets/registry";
import type { ControlDb } from "../db/client";
import { gateState } from "../gate/dataset";
import type { ShardStore } from "../shards/store";

// A tenant's rows of every dataset, as an archive holds them: canonical JSON by SQL column name
// (src/datasets/canonical.ts), whatever database or object they come from.

/** The datasets an archive holds: every one of the registry but those the database derives. */
export const archivedDatasets = (): Dataset[] =>
  DATASETS.filter((dataset) => dataset.home === "gate" || dataset.derivedFrom === undefined);

/** The datasets left out, as the manifest lists them. */
export const derivedDatasets = (): string[] =>
  DATASETS.filter((dataset) => dataset.home !== "gate" && dataset.derivedFrom !== undefined).map((d) => d.name);

/** Where a tenant's rows are read from. */
export type TenantSources = { env: Env; db: ControlDb; store: ShardStore; tenantId: string; pageRows: number };

/** A row of the gate's storage as an archive line: which table, and the row by column name. */
export type GateLine = { table: string; row: Record<string, string | number | null> };

/**
 * The tenant's rows of one dataset, a page at a time in key order (constant memory but for the
 * gate's, which is small and read at once).
 */
export async function* datasetPages(sources: TenantSources, dataset: Dataset): AsyncGenerator<CanonicalRow[]> {
  const { db, store, tenantId, pageRows } = sources;
  if (dataset.home === "gate") {
    const state = await exportGate(sources.env, tenantId);
    const lines: GateLine[] = gateState.storage
      .filter((table) => !gateState.cached.includes(table))
      .flatMap((table) => (state[table] ?? []).map((row) => ({ table, row })));
    yield lines as unknown as CanonicalRow[];
    return;
  }
  if (dataset.home === "control") {
    let after: unknown[] | null = null;
    for (;;) {
      const rows = await controlRows(db, dataset, tenantId, after, pageRows);
      if (rows.length > 0) yield rows;
      const last = rows.at(-1);
      if (rows.length < pageRows || !last) return;
      after = orderKeyOf(dataset, last);
    }
  }
  let after: string | null = null;
  for (;;) {
    const rows: Record<string, unknown>[] = await store.rows(dataset, tenantId, after, pageRows);
    if (rows.length > 0) yield rows.map((row) => canonicalRow(dataset, dataset.tables.sqlite, row));
    const last = rows.at(-1);
    if (rows.length < pageRows || !last) return;
    after = keyOf(dataset, last);
  }
}

/** A canonical row back in the form a store reads and writes it: by column key. */
export function storeRow(dataset: TableDataset, row: CanonicalRow): Record<string, unknown> {
  const columns = getTableColumns(dataset.tables.sqlite) as Record<string, Column>;
  const out: Record<string, unknown> = {};
  for (const [key, column] of Object.entries(columns)) if (column.name in row) out[key] = row[column.name];
  return out;
}
