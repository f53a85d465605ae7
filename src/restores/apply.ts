import { canonicalJson, canonicalRow } from "../datasets/canonical";
import { keyOf } from "../datasets/dataset";
import { entryData } from "../entries/dataset";
import type { Entry } from "../entries/table";
import type { ChangeOrigin, NewEvent } from "../events/event";
import type { ShardStore } from "../shards/store";

/** How far applying got: the last key compared, and the entries written. */
export type ApplyProgress = { cursor: string | null; changed: number; done: boolean };

const sameContent = (a: Entry, b: Entry) =>
  canonicalJson(a.data) === canonicalJson(b.data) && canonicalJson(a.tags) === canonicalJson(b.tags);

const stateOf = (row: Entry) => canonicalRow(entryData, entryData.tables.sqlite, row);

/**
 * Makes the tenant's live entries those of `stagingId` (a restore's staging copy on the same
 * shard), as ordinary changes: each page's differences are written with their events in one
 * transaction, so the feed, webhooks and the audit trail see the restore as the writes it is, and
 * nothing of the history is rewound. An entry only the copy holds is created as it was; one only
 * the live rows hold is deleted; one whose content differs is replaced by the copy's, at the next
 * version (never an old version number again, so an If-Match a client holds stays truthful).
 * Both sides are walked in key order a page at a time from `cursor`; run behind the write fence,
 * so nothing else writes meanwhile, stopping anywhere and resuming from the returned cursor gives
 * the same result.
 */
export async function applyStaging(
  store: ShardStore,
  request: {
    tenantId: string;
    stagingId: string;
    cursor: string | null;
    pageRows: number;
    deadline: number;
    origin: ChangeOrigin;
  },
): Promise<ApplyProgress> {
  const { tenantId, stagingId, pageRows } = request;
  let cursor = request.cursor;
  let changed = 0;
  for (;;) {
    if (Date.now() >= request.deadline) return { cursor, changed, done: false };
    const [live, staged] = (await Promise.all([
      store.rows(entryData, tenantId, cursor, pageRows),
      store.rows(entryData, stagingId, cursor, pageRows),
    ])) as [Entry[], Entry[]];
    // Up to the smaller of the two pages' last keys both sides are known; a short page is its side's end.
    const ends = [live, staged]
      .filter((page) => page.length === pageRows)
      .map((page) => keyOf(entryData, page.at(-1) as Entry));
    const bound = ends.length === 0 ? null : (ends.sort()[0] ?? null);
    const within = (row: Entry) => bound === null || row.id <= bound;
    const liveById = new Map(live.filter(within).map((row) => [row.id, row]));
    const now = Date.now();
    const rows: Entry[] = [];
    const removes: string[] = [];
    const events: NewEvent[] = [];
    for (const copy of staged.filter(within)) {
      const current = liveById.get(copy.id);
      liveById.delete(copy.id);
      if (!current) {
        const row = { ...copy, tenantId };
        rows.push(row);
        events.push({ type: "entry.created", subject: { type: "entry", id: row.id }, data: stateOf(row) });
      } else if (!sameContent(current, copy)) {
        const row = {
          ...current,
          data: copy.data,
          tags: copy.tags,
          sizeBytes: copy.sizeBytes,
          version: current.version + 1,
          updatedAt: now,
        };
        rows.push(row);
        events.push({ type: "entry.replaced", subject: { type: "entry", id: row.id }, data: stateOf(row) });
      }
    }
    for (const id of liveById.keys()) {
      removes.push(id);
      events.push({ type: "entry.deleted", subject: { type: "entry", id }, data: { id } });
    }
    if (events.length > 0) {
      await store.applyChanges(entryData, tenantId, { rows, removes, events, origin: request.origin, at: now });
      changed += events.length;
    }
    if (bound === null) return { cursor: null, changed, done: true };
    cursor = bound;
  }
}
