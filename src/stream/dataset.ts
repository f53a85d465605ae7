import type { TableDataset } from "../datasets/dataset";
import { streamTickets } from "./table";

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
