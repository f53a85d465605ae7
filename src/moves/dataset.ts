import type { TableDataset } from "../datasets/dataset";
import { tenantMoves } from "./table";

/** No version column: a step's lease and count change without touching updated_at, so diffs compare whole rows. */
export const moveHistory = {
  name: "moves",
  home: "control",
  description: "The tenant's moves between shards: states, progress, checksums, errors",
  tables: { sqlite: tenantMoves },
  tenantKey: "tenantId",
  orderKey: ["id"],
} satisfies TableDataset;
