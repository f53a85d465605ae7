import type { TableDataset } from "../datasets/dataset";
import { tenantRestores } from "./table";

/** No version column: a step's lease and count change without touching updated_at. */
export const restoreHistory = {
  name: "restores",
  home: "control",
  description: "The tenant's restores, rehydrations and clones: source, moment, state, events replayed, checksums",
  tables: { sqlite: tenantRestores },
  tenantKey: "tenantId",
  orderKey: ["id"],
} satisfies TableDataset;
