import { decodeCursor, encodeCursor } from "./cursor";
import { AppError } from "./problems";

/** Turns `?cursor=` into the id to continue after, rejecting cursors that do not decode to an id. */
export function cursorAfter(cursor: string | undefined, pattern: RegExp): string | undefined {
  if (cursor === undefined) return undefined;
  const after = decodeCursor(cursor);
  if (!pattern.test(after)) {
    throw new AppError("validation-error", "cursor is not valid", {
      extensions: { errors: [{ path: "query.cursor", message: "cursor is not valid" }] },
    });
  }
  return after;
}

/**
 * The seq a cursor names, in a list whose ids are `idOf(seq)` (a feed, a trail): the cursor must
 * decode to exactly such an id, so one of another tenant's list is refused, not read.
 */
export function seqOfCursor(cursor: string, idOf: (seq: number) => string, what: string): number {
  const id = decodeCursor(cursor);
  const match = /_([0-9]{12})$/.exec(id);
  const seq = match ? Number(match[1]) : Number.NaN;
  if (!match || idOf(seq) !== id) {
    throw new AppError("validation-error", "cursor is not valid", {
      extensions: { errors: [{ path: "query.cursor", message: `cursor is not a position in ${what}` }] },
    });
  }
  return seq;
}

export function page<T extends { id: string }, R>(result: { items: T[]; hasMore: boolean }, render: (item: T) => R) {
  const last = result.items.at(-1);
  return {
    data: result.items.map(render),
    next_cursor: result.hasMore && last ? encodeCursor(last.id) : null,
  };
}
