import type { TableDataset } from "../datasets/dataset";
import { entries, entryTags, pgEntries, pgEntryTags } from "./table";

/** The tenant's JSON documents. */
export const entryData = {
  name: "entries",
  home: "shard",
  description: "The tenant's JSON documents, with their versions, tags and sizes",
  tables: { sqlite: entries, pg: pgEntries },
  tenantKey: "tenantId",
  orderKey: ["id"],
  version: "version",
} satisfies TableDataset;

/** The tag index: one row per (entry, tag), written by the shard's triggers. */
export const entryTagIndex = {
  name: "entry-tags",
  home: "shard",
  description: "One row per entry and tag, so a tag filter is an index range",
  tables: { sqlite: entryTags, pg: pgEntryTags },
  tenantKey: "tenantId",
  orderKey: ["tag", "entryId"],
  derivedFrom: "entries (triggers)",
} satisfies TableDataset;
