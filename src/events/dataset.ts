import type { TableDataset } from "../datasets/dataset";
import type { ShardStore } from "../shards/store";
import { eventCursors } from "./cursor-table";
import { outbox } from "./outbox-table";
import { events, pgEvents } from "./table";

/** The tenant's event feed: every change to its data, kept for EVENT_RETENTION_DAYS. */
export const eventFeed = {
  name: "events",
  home: "shard",
  description: "Every change to the tenant's data, in commit order, with what the relay has published",
  tables: { sqlite: events, pg: pgEvents },
  tenantKey: "tenantId",
  orderKey: ["seq"],
  // An event never changes once written but for the relay's mark that it is on the queue.
  bookkeeping: ["publishedAt"],
  appendOnly: true,
} satisfies TableDataset;

/** The newest seq of the tenant's feed on `store` (0: none yet): where an archive or a copy reads from. */
export async function feedHead(store: ShardStore, tenantId: string): Promise<number> {
  const range = await store.keyRange(eventFeed, tenantId);
  return range ? Number(range.last) : 0;
}

/** What the control database still owes the tenant's shard (normally empty within a second). */
export const controlOutbox = {
  name: "outbox",
  home: "control",
  description: "Events and audit records of control-plane requests on their way to the tenant's shard",
  tables: { sqlite: outbox },
  tenantKey: "tenantId",
  orderKey: ["id"],
} satisfies TableDataset;

/** How far the feed consumer has got in the tenant's feed. */
export const feedCursor = {
  name: "event-cursor",
  home: "control",
  description: "The feed consumer's position in the tenant's feed: events delivered, duplicates seen",
  tables: { sqlite: eventCursors },
  tenantKey: "tenantId",
  orderKey: ["tenantId"],
  version: "version",
} satisfies TableDataset;
