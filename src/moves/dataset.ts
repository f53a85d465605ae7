import type { TableDataset } from "../datasets/dataset";
import { tenantMoves } from "./table";

export const moveHistory = {
  name: "moves",
  home: "control",
  description: "The tenant's moves between shards: states, progress, checksums, errors",
  tables: { sqlite: tenantMoves },
  tenantKey: "tenantId",
  orderKey: ["id"],
  version: "updatedAt",
} satisfies TableDataset;
