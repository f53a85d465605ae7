import type { TableDataset } from "../datasets/dataset";
import { datasetsIn } from "../datasets/registry";
import type { ShardStore } from "../shards/store";
import { ArchiveInvalid, type OpenArchive } from "./reader";
import { storeRow } from "./rows";

/** What an import writes: whose rows the archive must hold, under which tenant they land, which datasets. */
export type ImportRequest = {
  /** The tenant the archive's rows must belong to. */
  from: string;
  /** The tenant they are written as (the same one, a clone, a restore's staging copy). */
  into: string;
  /** The shard datasets to write, in registry order (all of them unless given). */
  datasets?: TableDataset[];
  pageRows: number;
  /** Told the rows written so far after each page. */
  progress?: (rows: number) => void | Promise<void>;
};

/**
 * Writes the archive's shard datasets into `store` as the rows of `into`, `pageRows` at a time,
 * each page in one transaction (rows land exactly as archived: keys, versions, timestamps, with
 * the tenant column set to `into`). The tenant is registered first; the database derives the rest
 * (tags, usage counters) as the rows go in. Rows stream from the archive, so this holds a page,
 * never a dataset. A file found corrupt part-way throws ArchiveInvalid after some pages are in:
 * an import is only advertised once what it wrote is checked (src/restores/job.ts).
 */
export async function importShardData(
  archive: OpenArchive,
  store: ShardStore,
  request: ImportRequest,
): Promise<{ rows: number }> {
  const { from, into, pageRows } = request;
  await store.registerTenant(into);
  let rows = 0;
  for (const dataset of request.datasets ?? datasetsIn("shard")) {
    const file = archive.manifest.files.find((f) => f.dataset === dataset.name);
    if (!file) throw new ArchiveInvalid(`The archive holds no ${dataset.name}`);
    let page: Record<string, unknown>[] = [];
    const flush = async (target: TableDataset) => {
      if (page.length === 0) return;
      await store.importRows(target, into, page);
      rows += page.length;
      page = [];
      await request.progress?.(rows);
    };
    for await (const row of archive.rows(file)) {
      const stored = storeRow(dataset, row);
      if (dataset.tenantKey !== undefined && stored[dataset.tenantKey] !== from) {
        throw new ArchiveInvalid(`A row of ${dataset.name} belongs to another tenant`);
      }
      page.push(stored);
      if (page.length >= pageRows) await flush(dataset);
    }
    await flush(dataset);
  }
  return { rows };
}
