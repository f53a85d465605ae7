import type { TableDataset } from "../datasets/dataset";
import { flagOverrides } from "./table";

export const tenantFlagOverrides = {
  name: "flag-overrides",
  home: "control",
  description: "The tenant's overrides of platform feature flags (enabled, values, variants, rollout, rules)",
  tables: { sqlite: flagOverrides },
  tenantKey: "tenantId",
  orderKey: ["flagKey"],
  version: "version",
} satisfies TableDataset;
