import { createHash } from "node:crypto";
import type { Entry } from "../entries/table";
import type { EntryVersion, ShardStore } from "../shards/store";

// Copying one tenant's entries between two shards of any engines, and proving the copies equal.

/** Copies up to `limit` entries after `after` (ascending ids); the last id copied, null when none were left. */
export async function copyBatch(
  source: ShardStore,
  target: ShardStore,
  tenantId: string,
  after: string | null,
  limit: number,
): Promise<{ copied: number; last: string | null }> {
  const rows = await source.exportEntries(tenantId, after, limit);
  if (rows.length === 0) return { copied: 0, last: null };
  await target.importEntries(tenantId, rows);
  return { copied: rows.length, last: rows[rows.length - 1]?.id ?? null };
}

/** Both stores' (id, version) lists, walked side by side in id order. */
async function* pairs(source: ShardStore, target: ShardStore, tenantId: string, pageSize: number) {
  const walk = async function* (store: ShardStore): AsyncGenerator<EntryVersion> {
    let after: string | null = null;
    for (;;) {
      const page = await store.entryVersions(tenantId, after, pageSize);
      yield* page;
      if (page.length < pageSize) return;
      after = page[page.length - 1]?.id ?? null;
    }
  };
  const left = walk(source);
  const right = walk(target);
  let a = await left.next();
  let b = await right.next();
  while (!a.done || !b.done) {
    if (b.done || (!a.done && a.value.id < b.value.id)) {
      yield { source: a.value as EntryVersion, target: null };
      a = await left.next();
    } else if (a.done || b.value.id < a.value.id) {
      yield { source: null, target: b.value };
      b = await right.next();
    } else {
      yield { source: a.value, target: b.value };
      a = await left.next();
      b = await right.next();
    }
  }
}

/**
 * Makes the target's copy of the tenant equal to the source's as of now: entries missing or at
 * another version on the target are copied, entries the source no longer has are removed. Entries
 * never change without a new version, so versions are enough to find every difference; only under
 * a write fence is the result exact (otherwise it is as of some moment during the walk).
 */
export async function syncDifferences(
  source: ShardStore,
  target: ShardStore,
  tenantId: string,
  pageSize: number,
): Promise<{ copied: number; removed: number }> {
  let copied = 0;
  let removed = 0;
  let toCopy: string[] = [];
  let toRemove: string[] = [];
  const flush = async (force: boolean) => {
    if (toCopy.length > 0 && (force || toCopy.length >= pageSize)) {
      const rows = await source.readEntries(tenantId, toCopy);
      if (rows.length > 0) await target.importEntries(tenantId, rows);
      // An id the source no longer has was deleted meanwhile; the next pass removes it.
      copied += rows.length;
      toCopy = [];
    }
    if (toRemove.length > 0 && (force || toRemove.length >= pageSize)) {
      await target.removeEntries(tenantId, toRemove);
      removed += toRemove.length;
      toRemove = [];
    }
  };
  for await (const { source: there, target: here } of pairs(source, target, tenantId, pageSize)) {
    if (there && (!here || here.version !== there.version)) toCopy.push(there.id);
    else if (!there && here) toRemove.push(here.id);
    await flush(false);
  }
  await flush(true);
  return { copied, removed };
}

/** Key order is not kept by every engine (PostgreSQL jsonb), so the checksum sorts keys first. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(",")}]`;
  if (value !== null && typeof value === "object") {
    const object = value as Record<string, unknown>;
    const keys = Object.keys(object).sort();
    return `{${keys.map((key) => `${JSON.stringify(key)}:${canonical(object[key])}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

const rowText = (row: Entry) =>
  canonical([row.id, row.version, row.createdAt, row.updatedAt, row.sizeBytes, row.tags, row.data]);

export type Summary = { rows: number; checksum: string; storedBytes: number };

/** The tenant's entries on one store: how many, their bytes, and a SHA-256 over every row in id order. */
export async function summarize(store: ShardStore, tenantId: string, pageSize: number): Promise<Summary> {
  const hash = createHash("sha256");
  let rows = 0;
  let storedBytes = 0;
  let after: string | null = null;
  for (;;) {
    const page = await store.exportEntries(tenantId, after, pageSize);
    for (const row of page) {
      hash.update(rowText(row));
      hash.update("\n");
      storedBytes += row.sizeBytes;
    }
    rows += page.length;
    if (page.length < pageSize) break;
    after = page[page.length - 1]?.id ?? null;
  }
  return { rows, checksum: hash.digest("hex"), storedBytes };
}

/**
 * Compares the two copies row by row (by checksum) and the target's usage counters with the rows
 * it holds; the reasons they differ, or none.
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
  const mismatches: string[] = [];
  if (there.rows !== here.rows) mismatches.push(`source has ${there.rows} entries, target ${here.rows}`);
  else if (there.checksum !== here.checksum) mismatches.push("the entries' checksums differ");
  if (usage?.entryCount !== here.rows || usage?.storedBytes !== here.storedBytes) {
    mismatches.push(
      `the target counts ${usage?.entryCount} entries and ${usage?.storedBytes} bytes but holds ${here.rows} and ${here.storedBytes}`,
    );
  }
  return { summary: there, mismatches };
}
