import type { TableDataset } from "../datasets/dataset";
import { users } from "./table";

export const tenantUsers = {
  name: "users",
  home: "control",
  description: "The tenant's users: email, name, role",
  tables: { sqlite: users },
  tenantKey: "tenantId",
  orderKey: ["id"],
  version: "updatedAt",
} satisfies TableDataset;
