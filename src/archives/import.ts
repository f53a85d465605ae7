import type { TableDataset } from "../datasets/dataset";
import { datasetsIn } from "../datasets/registry";
import type { ShardStore } from "../shards/store";
import { ArchiveInvalid, type OpenArchive } from "./reader";
import { storeRow } from "./rows";

/**
 * Writes the archive's shard datasets into `store` as the tenant's rows, `pageRows` at a time,
 * each page in one transaction (rows land exactly as archived: keys, versions, timestamps). The
 * tenant is registered first; the database derives the rest (tags, usage counters) as the rows
 * go in. Rows stream from the archive, so this holds a page, never a dataset. A file found
 * corrupt part-way throws ArchiveInvalid after some pages are in: validate the archive first
 * (src/archives/validate.ts) where a half import must not happen.
 */
export async function importShardData(
  archive: OpenArchive,
  store: ShardStore,
  tenantId: string,
  pageRows: number,
): Promise<{ rows: number }> {
  await store.registerTenant(tenantId);
  let rows = 0;
  for (const dataset of datasetsIn("shard")) {
    const file = archive.manifest.files.find((f) => f.dataset === dataset.name);
    if (!file) throw new ArchiveInvalid(`The archive holds no ${dataset.name}`);
    let page: Record<string, unknown>[] = [];
    const flush = async (target: TableDataset) => {
      if (page.length === 0) return;
      await store.importRows(target, tenantId, page);
      rows += page.length;
      page = [];
    };
    for await (const row of archive.rows(file)) {
      const stored = storeRow(dataset, row);
      if (dataset.tenantKey !== undefined && stored[dataset.tenantKey] !== tenantId) {
        throw new ArchiveInvalid(`A row of ${dataset.name} belongs to another tenant`);
      }
      page.push(stored);
      if (page.length >= pageRows) await flush(dataset);
    }
    await flush(dataset);
  }
  return { rows };
}
