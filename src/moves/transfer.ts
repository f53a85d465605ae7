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
 * returns where the copy got to, or `done` once every dataset is copied. A page shorter than
 * `limit` ends its dataset: rows written since are the sync's (src/moves/job.ts), or a copy of
 * a tenant that keeps writing (its feed grows at the end) would chase its newest rows forever.
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
    const next = datasets[at + 1];
    if (rows.length < limit) {
      if (!next) return { copied: rows.length, position: { dataset: dataset.name, after: null }, done: true };
      return { copied: rows.length, position: { dataset: next.name, after: null }, done: false };
    }
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
 * The sync of an append-only dataset (a feed, a trail) in time proportional to what changed, not
 * to its size: rows come only at the end and go only from the start (retention), so each copy
 * holds one run of keys, and the target lacks only the source's rows past its last key and holds
 * too many only before the source's first. Null when the copies are not like that (the target is
 * ahead), which the full diff then sorts out.
 */
async function syncAppended(
  source: ShardStore,
  target: ShardStore,
  tenantId: string,
  pageSize: number,
  dataset: TableDataset,
): Promise<{ copied: number; removed: number } | null> {
  const compare = compareKeys(dataset);
  const [theirs, ours] = await Promise.all([source.keyRange(dataset, tenantId), target.keyRange(dataset, tenantId)]);
  if (ours && theirs && compare(ours.last, theirs.last) > 0) return null;
  let copied = 0;
  let removed = 0;
  let after = ours?.last ?? null;
  for (;;) {
    const rows = await source.rows(dataset, tenantId, after, pageSize);
    if (rows.length > 0) await target.importRows(dataset, tenantId, rows);
    copied += rows.length;
    if (rows.length < pageSize) break;
    after = keyOf(dataset, rows[rows.length - 1] as Record<string, unknown>);
  }
  // What retention dropped from the source's start since the copy.
  if (ours && (!theirs || compare(ours.first, theirs.first) < 0)) {
    const key = keyColumnOf(dataset);
    for (;;) {
      const page = await target.versions(dataset, tenantId, null, pageSize);
      const gone = page.map((row) => String(row[key])).filter((k) => !theirs || compare(k, theirs.first) < 0);
      if (gone.length > 0) await target.removeRows(dataset, tenantId, gone);
      removed += gone.length;
      if (gone.length < pageSize) break;
    }
  }
  return { copied, removed };
}

/**
 * Makes the target's copy of the tenant equal to the source's as of now: rows missing or at
 * another version on the target are copied, rows the source no longer has are removed. Rows
 * never change without a new version (a dataset without one never changes its rows but for the
 * relay's bookkeeping), so versions are enough to find every difference; only under a write
 * fence is the result exact (otherwise it is as of some moment during the walk).
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
    if (dataset.appendOnly) {
      const synced = await syncAppended(source, target, tenantId, pageSize, dataset);
      if (synced) {
        copied += synced.copied;
        removed += synced.removed;
        continue;
      }
    }
    // Without a version a row never changes: only which keys each copy holds can differ.
    const version = dataset.version;
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
      if (there && (!here || (version !== undefined && here[version] !== there[version]))) toCopy.push(key);
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
    summaries[dataset.name] = await summarizeShardDataset(store, dataset, tenantId, pageSize, (row, compared) => {
      all.add(compared);
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
