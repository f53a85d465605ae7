import type { TableDataset } from "../datasets/dataset";
import { apiKeys } from "./table";

/**
 * What the tenant's keys are, never what opens them: the secret's hash stays out of every copy,
 * so importing keys takes each one's `secret_hash` from the caller (src/datasets/control.ts).
 */
export const keyMetadata = {
  name: "api-keys",
  home: "control",
  description: "The tenant's API keys without their secrets: name, prefix, scopes, limits, expiry, use, revocation",
  tables: { sqlite: apiKeys },
  tenantKey: "tenantId",
  orderKey: ["id"],
  omit: ["secretHash"],
} satisfies TableDataset;
