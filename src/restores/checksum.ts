import { datasetPages, type TenantSources } from "../archives/rows";
import { type CanonicalRow, canonicalRow, RowChecksum } from "../datasets/canonical";
import type { Dataset } from "../datasets/dataset";
import { keyOf } from "../datasets/dataset";
import { entryData } from "../entries/dataset";
import type { ShardStore } from "../shards/store";

/**
 * A dataset's rows of the tenant as an archive file holds them: their count and SHA-256, equal to
 * the manifest's for that file iff the rows are the archived ones (a rehydration's check).
 */
export async function datasetDigest(sources: TenantSources, dataset: Dataset) {
  const checksum = new RowChecksum();
  for await (const page of datasetPages(sources, dataset)) for (const row of page) checksum.add(row);
  return { rows: checksum.rows, sha256: checksum.digest() };
}

/** What a restore makes equal: an entry's id, content and creation, not its tenant, version or last write. */
const contentOf = (row: CanonicalRow) => ({
  id: row.id ?? null,
  data: row.data ?? null,
  tags: row.tags ?? null,
  created_at: row.created_at ?? null,
});

/**
 * The SHA-256 of the tenant's entries' content in key order (see contentOf): equal for a tenant
 * and its clone, and for a tenant restored in place and the state it was restored to, although a
 * restore in place gives the entries it rewrites new versions (an If-Match on an old one fails).
 */
export async function contentChecksum(store: ShardStore, tenantId: string, pageRows: number) {
  const checksum = new RowChecksum();
  let after: string | null = null;
  for (;;) {
    const rows: Record<string, unknown>[] = await store.rows(entryData, tenantId, after, pageRows);
    for (const row of rows) checksum.add(contentOf(canonicalRow(entryData, entryData.tables.sqlite, row)));
    const last = rows.at(-1);
    if (rows.length < pageRows || !last) return { rows: checksum.rows, sha256: checksum.digest() };
    after = keyOf(entryData, last);
  }
}
