import type { TableDataset } from "../datasets/dataset";
import { tenantArchives } from "./table";

/** The tenant's exports, backups and hibernation archives: what each is, where, and its state. */
export const archiveRecords = {
  name: "archives",
  home: "control",
  description: "The tenant's exports, backups and hibernation archives: state, size, checksums, where they are",
  tables: { sqlite: tenantArchives },
  tenantKey: "tenantId",
  orderKey: ["id"],
  version: "updatedAt",
} satisfies TableDataset;
