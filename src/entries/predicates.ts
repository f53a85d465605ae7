import { type AnyColumn, and, eq } from "drizzle-orm";

type EntryColumns = { tenantId: AnyColumn; id: AnyColumn; version: AnyColumn };
type TagColumns = { tenantId: AnyColumn; tag: AnyColumn; entryId: AnyColumn };

/**
 * The conditions of the entries queries, written once for both engines: SQLite and PostgreSQL
 * spell them alike, only their drizzle tables (and query builders) differ.
 */
export function entryPredicates(entries: EntryColumns, entryTags: TagColumns) {
  return {
    /** One entry; with `version`, only while it is still at that version. */
    entry: (tenantId: string, entryId: string, version?: number) =>
      and(
        eq(entries.tenantId, tenantId),
        eq(entries.id, entryId),
        version === undefined ? undefined : eq(entries.version, version),
      ),
    /** Joins a tag index row to its entry. */
    tagOfEntry: and(eq(entries.tenantId, entryTags.tenantId), eq(entries.id, entryTags.entryId)),
  };
}
