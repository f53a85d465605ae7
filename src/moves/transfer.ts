import { RowChecksum } from "../datasets/canonical";
import { compareKeys, keyColumnOf, keyOf, type TableDataset } from "../datasets/dataset";
import { datasetsIn } from "../datasets/registry";
import { type ShardSummary, summarizeShardDataset } from "../datasets/shard";
import { entryData } from "../entries/dataset";

import type { ShardStore } from "../shards/store";

// Copying one tenant's shard data between two shards of any engines, and proving the copies
// equal: every shard dataset of the registry that is data in its own right, in registry order.

/** Where a copy has got to: the dataset, and the last key copied in it (null: none yet). */
export type CopyPosition = { dataset: string; after: string | null };

/** The position as the move stores it: `dataset␟key`; a bare key is an entries position. */
export const positionText = (position: CopyPosition) => `${position.dataset}\u001f${position.after ?? ""}`;

export function positionOf(text: string | null, datasets = datasetsIn("shard")): CopyPosition {
  const first = datasets[0]?.name ?? entryData.name;
  if (text === null) return { dataset: first, after: null };
  const at = text.indexOf("\u001f");
  if (at < 0) return { dataset: entryData.name, after: text };
  const after = text.slice(at + 1);
  return { dataset: text.slice(0, at), after: after === "" ? null : after };
}

/**
 * Copies up to `limit` rows from `position` on (in the first dataset that has any left) and
 * returns where the copy got to, or `done` once every dataset is copied.
 */
export async function copyBatch(
  source: ShardStore,
  target: ShardStore,
  tenantId: string,
  position: CopyPosition,
  limit: number,
  datasets = datasetsIn("shard"),
): Promise<{ copied: number; position: CopyPosition; done: boolean }> {
  const from = datasets.findIndex((d) => d.name === position.dataset);
  // A position in a dataset the registry no longer lists would otherwise end the copy unnoticed.
  if (from < 0) throw new Error(`The copy stopped in dataset ${position.dataset}, which no longer exists`);
  for (let at = from; at < datasets.length; at++) {
    const dataset = datasets[at] as TableDataset;
    const after = dataset.name === position.dataset ? position.after : null;
    const rows = await source.rows(dataset, tenantId, after, limit);
    if (rows.length === 0) continue;
    await target.importRows(dataset, tenantId, rows);
    const last = keyOf(dataset, rows[rows.length - 1] as Record<string, unknown>);
    return { copied: rows.length, position: { dataset: dataset.name, after: last }, done: false };
  }
  return { copied: 0, position, done: true };
}

/** Both stores' (key, version) lists of one dataset, walked side by side in key order. */
async function* pairs(source: ShardStore, target: ShardStore, dataset: TableDataset, tenantId: string, size: number) {
  const key = keyColumnOf(dataset);
  const compare = compareKeys(dataset);
  const walk = async function* (store: ShardStore): AsyncGenerator<Record<string, unknown>> {
    let after: string | null = null;
    for (;;) {
      const page: Record<string, unknown>[] = await store.versions(dataset, tenantId, after, size);
      yield* page;
      if (page.length < size) return;
      after = String(page[page.length - 1]?.[key]);
    }
  };
  const left = walk(source);
  const right = walk(target);
  let a = await left.next();
  let b = await right.next();
  while (!a.done || !b.done) {
    const ka = a.done ? null : String(a.value[key]);
    const kb = b.done ? null : String(b.value[key]);
    if (kb === null || (ka !== null && compare(ka, kb) < 0)) {
      yield { key: ka as string, source: a.value, target: null };
      a = await left.next();
    } else if (ka === null || compare(kb, ka) < 0) {
      yield { key: kb, source: null, target: b.value };
      b = await right.next();
    } else {
      yield { key: ka, source: a.value, target: b.value };
      a = await left.next();
      b = await right.next();
    }
  }
}

/**
 * Makes the target's copy of the tenant equal to the source's as of now: rows missing or at
 * another version on the target are copied, rows the source no longer has are removed. Rows
 * never change without a new version (every copied dataset declares one), so versions are
 * enough to find every difference; only under a write fence is the result exact (otherwise it is
 * as of some moment during the walk).
 */
export async function syncDifferences(
  source: ShardStore,
  target: ShardStore,
  tenantId: string,
  pageSize: number,
  datasets = datasetsIn("shard"),
): Promise<{ copied: number; removed: number }> {
  let copied = 0;
  let removed = 0;
  for (const dataset of datasets) {
    const version = dataset.version;
    if (version === undefined) throw new Error(`dataset ${dataset.name} has no version to diff copies by`);
    let toCopy: string[] = [];
    let toRemove: string[] = [];
    const flush = async (force: boolean) => {
      if (toCopy.length > 0 && (force || toCopy.length >= pageSize)) {
        const rows = await source.readRows(dataset, tenantId, toCopy);
        if (rows.length > 0) await target.importRows(dataset, tenantId, rows);
        // A key the source no longer has was deleted meanwhile; the next pass removes it.
        copied += rows.length;
        toCopy = [];
      }
      if (toRemove.length > 0 && (force || toRemove.length >= pageSize)) {
        await target.removeRows(dataset, tenantId, toRemove);
        removed += toRemove.length;
        toRemove = [];
      }
    };
    for await (const { key, source: there, target: here } of pairs(source, target, dataset, tenantId, pageSize)) {
      if (there && (!here || here[version] !== there[version])) toCopy.push(key);
      else if (!there && here) toRemove.push(key);
      await flush(false);
    }
    await flush(true);
  }
  return { copied, removed };
}

export type Summary = ShardSummary & { storedBytes: number; datasets: Record<string, ShardSummary> };

/**
 * The tenant's shard data on one store: each dataset's rows and checksum, and over them all the
 * total, one checksum of every row in dataset then key order (the canonical form of
 * src/datasets/canonical.ts), and the entries' bytes (what the usage counters count).
 */
export async function summarize(
  store: ShardStore,
  tenantId: string,
  pageSize: number,
  datasets = datasetsIn("shard"),
): Promise<Summary> {
  const all = new RowChecksum();
  let storedBytes = 0;
  const summaries: Record<string, ShardSummary> = {};
  for (const dataset of datasets) {
    summaries[dataset.name] = await summarizeShardDataset(store, dataset, tenantId, pageSize, (row, canonical) => {
      all.add(canonical);
      if (dataset === entryData) storedBytes += Number(row.sizeBytes);
    });
  }
  return { rows: all.rows, checksum: all.digest(), storedBytes, datasets: summaries };
}

/**
 * Compares the two copies dataset by dataset (by checksum) and the target's usage counters with
 * the entries it holds; the reasons they differ, or none.
 */
export async function verifyCopies(
  source: ShardStore,
  target: ShardStore,
  tenantId: string,
  pageSize: number,
): Promise<{ summary: Summary; mismatches: string[] }> {
  const [there, here, usage] = await Promise.all([
    summarize(source, tenantId, pageSize),
    summarize(target, tenantId, pageSize),
    target.storageOf(tenantId),
  ]);
  // The walk has counted the target's entries already; the usage counters must agree with it.
  const entries = here.datasets[entryData.name]?.rows ?? 0;
  const mismatches: string[] = [];
  for (const [name, theirs] of Object.entries(there.datasets)) {
    const ours = here.datasets[name];
    if (theirs.rows !== ours?.rows) mismatches.push(`source has ${theirs.rows} ${name}, target ${ours?.rows ?? 0}`);
    else if (theirs.checksum !== ours.checksum) mismatches.push(`the ${name}' checksums differ`);
  }
  if (usage?.entryCount !== entries || usage?.storedBytes !== here.storedBytes) {
    mismatches.push(
      `the target counts ${usage?.entryCount} entries and ${usage?.storedBytes} bytes but holds ${entries} and ${here.storedBytes}`,
    );
  }
  return { summary: there, mismatches };
}
