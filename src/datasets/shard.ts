import { type Column, getTableColumns } from "drizzle-orm";
import type { ShardStore } from "../shards/store";
import { type CanonicalRow, canonicalRow, RowChecksum } from "./canonical";
import { keyOf, type TableDataset } from "./dataset";

/** The canonical row without the relay's bookkeeping columns, which two equal copies may differ in. */
function comparedBy(dataset: TableDataset): (row: CanonicalRow) => CanonicalRow {
  if (!dataset.bookkeeping?.length) return (row) => row;
  const columns = getTableColumns(dataset.tables.sqlite) as Record<string, Column>;
  const skip = new Set(dataset.bookkeeping.map((key) => (columns[key] as Column).name));
  return (row) => Object.fromEntries(Object.entries(row).filter(([name]) => !skip.has(name)));
}

/**
 * How many rows of a dataset the tenant has on one store, and their checksum (see canonical.ts)
 * over everything but the relay's bookkeeping.
 */
export type ShardSummary = { rows: number; checksum: string };

/**
 * Walks the tenant's rows of one shard dataset in key order, `pageSize` at a time (constant
 * memory), and sums them up; `each` sees every row on the way (as the store read it, and canonical
 * without the relay's bookkeeping).
 */
export async function summarizeShardDataset(
  store: ShardStore,
  dataset: TableDataset,
  tenantId: string,
  pageSize: number,
  each: (row: Record<string, unknown>, canonical: CanonicalRow) => void = () => undefined,
): Promise<ShardSummary> {
  const checksum = new RowChecksum();
  const comparable = comparedBy(dataset);
  let after: string | null = null;
  for (;;) {
    const page: Record<string, unknown>[] = await store.rows(dataset, tenantId, after, pageSize);
    for (const row of page) {
      const compared = comparable(canonicalRow(dataset, dataset.tables.sqlite, row));
      checksum.add(compared);
      each(row, compared);
    }
    if (page.length < pageSize) break;
    after = keyOf(dataset, page[page.length - 1] as Record<string, unknown>);
  }
  return { rows: checksum.rows, checksum: checksum.digest() };
}
