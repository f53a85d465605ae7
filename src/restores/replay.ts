import { storeRow } from "../archives/rows";
import type { CanonicalRow } from "../datasets/canonical";
import { entryData } from "../entries/dataset";
import type { ShardStore } from "../shards/store";

/** How far a replay got: the last seq applied, and the entry events among those read. */
export type ReplayProgress = { seq: number; applied: number; done: boolean };

/**
 * Replays the source tenant's entry events after `fromSeq` up to `toSeq` onto the entries of
 * `into` in `target`, a page of events at a time, until done or `deadline`. Each entry event
 * carries the entry's whole row after the change (or, deleted, only its id), so replaying events
 * in seq order over a copy taken anywhere between two feed positions leaves each entry as its
 * last event up to `toSeq` made it: the copy as of `toSeq` exactly, provided it holds every
 * change up to `fromSeq` and none after `toSeq` (an archive's `feed` positions say so). Within
 * a page only an entry's last event counts; pages are applied in order, so stopping anywhere
 * and resuming from the returned seq gives the same result.
 */
export async function replayEvents(
  source: ShardStore,
  target: ShardStore,
  request: { from: string; into: string; fromSeq: number; toSeq: number; pageRows: number; deadline: number },
): Promise<ReplayProgress> {
  let seq = request.fromSeq;
  let applied = 0;
  while (seq < request.toSeq) {
    if (Date.now() >= request.deadline) return { seq, applied, done: false };
    const limit = Math.min(request.pageRows, request.toSeq - seq);
    const events = await source.feed.page(request.from, seq, limit);
    if (events.length === 0) throw new Error(`The feed holds no event after seq ${seq}: it was dropped by retention`);
    const last = new Map<string, Record<string, unknown> | null>();
    for (const event of events) {
      if (event.seq !== seq + 1) throw new Error(`The feed lacks seq ${seq + 1}: it was dropped by retention`);
      seq = event.seq;
      if (event.subjectType !== "entry") continue;
      applied++;
      last.set(
        event.subjectId,
        event.type === "entry.deleted" ? null : storeRow(entryData, event.data as unknown as CanonicalRow),
      );
    }
    const rows = [...last.values()].filter((row): row is Record<string, unknown> => row !== null);
    const removes = [...last].filter(([, row]) => row === null).map(([id]) => id);
    if (rows.length > 0) await target.importRows(entryData, request.into, rows);
    if (removes.length > 0) await target.removeRows(entryData, request.into, removes);
  }
  return { seq, applied, done: true };
}
