import { type Column, desc, lt, type SQL } from "drizzle-orm";

/** A page request of a list ordered newest first: at most `limit` rows, after the id `after`. */
export type PageRequest = { limit: number; after?: string };
export type Page<T> = { items: T[]; hasMore: boolean };

/**
 * Keyset paging on an id column, newest first, on either engine (ids are ULIDs, which sort by
 * creation time). `after` goes into the query's WHERE, `order` and `limit` after it (one row past
 * the page says whether another follows), and `page` turns the rows read into the page.
 */
export function newestFirst(id: Column, request: PageRequest) {
  return {
    after: (request.after === undefined ? undefined : lt(id, request.after)) as SQL | undefined,
    order: desc(id),
    limit: request.limit + 1,
    page: <T>(rows: T[]): Page<T> => ({ items: rows.slice(0, request.limit), hasMore: rows.length > request.limit }),
  };
}
