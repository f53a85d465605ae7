import { and, eq, getTableColumns } from "drizzle-orm";
import { newestFirst, type PageRequest } from "../../db/keyset";
import { retryRead } from "../../gate/retry";
import { notFound } from "../../http/problems";
import type { EntryPage } from "../../shards/store";
import { entryPredicates } from "../predicates";
import type { Entry } from "../table";

/** Either engine's drizzle client and entries tables: the reads below are the same statements on both. */
type AnyDb = { select: (...fields: any[]) => any };
type Tables = { entries: any; entryTags: any };

/** The entries' reads, spelt and run alike on D1 and PostgreSQL. */
export function entryReads(db: AnyDb, { entries, entryTags }: Tables) {
  const where = entryPredicates(entries, entryTags);
  return {
    async getEntry(tenantId: string, entryId: string): Promise<Entry> {
      const [row] = await retryRead<Entry[]>(() => db.select().from(entries).where(where.entry(tenantId, entryId)));
      if (!row) throw notFound("Entry");
      return row;
    },

    /**
     * Newest first, keyset-paginated on the id (ULIDs sort by creation time; ids compare bytewise
     * on both engines). With a tag, walk the tag index in id order and join each entry: one query
     * whatever the page size (an id list would pass D1's 100 bound parameters at limit 100).
     */
    listEntries(tenantId: string, filter: { tag?: string }, page: PageRequest): Promise<EntryPage> {
      const keyset = newestFirst(filter.tag === undefined ? entries.id : entryTags.entryId, page);
      return retryRead(async () => {
        const rows: Entry[] =
          filter.tag === undefined
            ? await db
                .select()
                .from(entries)
                .where(and(eq(entries.tenantId, tenantId), keyset.after))
                .orderBy(keyset.order)
                .limit(keyset.limit)
            : await db
                .select(getTableColumns(entries))
                .from(entryTags)
                .innerJoin(entries, where.tagOfEntry)
                .where(and(eq(entryTags.tenantId, tenantId), eq(entryTags.tag, filter.tag), keyset.after))
                .orderBy(keyset.order)
                .limit(keyset.limit);
        return keyset.page(rows);
      });
    },
  };
}
