import type { TableDataset } from "../datasets/dataset";
import { streamCounters, streamTickets } from "./table";

/** Tickets for the tenant's event stream, without their secrets' hashes. */
export const tenantStreamTickets = {
  name: "stream-tickets",
  home: "control",
  description: "Single-use tickets for the tenant's event stream: who asked, the types asked for, expiry, use",
  tables: { sqlite: streamTickets },
  tenantKey: "tenantId",
  orderKey: ["id"],
  omit: ["secretHash"],
} satisfies TableDataset;

export const tenantStreamCounters = {
  name: "stream-counters",
  home: "control",
  description:
    "The tenant's stream counters as its hub last reported them: open, opened, refused, dropped, resyncs, coalesced",
  tables: { sqlite: streamCounters },
  tenantKey: "tenantId",
  orderKey: ["tenantId"],
  version: "reportedAt",
} satisfies TableDataset;
