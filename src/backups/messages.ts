import { z } from "zod";
import { defineMessage } from "../jobs/kind";

/** The day's backup of one tenant (`day` as YYYY-MM-DD in UTC): made once per tenant per day. */
export const backupTenantMessage = defineMessage(
  "backup-tenant",
  z.object({ tenantId: z.string(), day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) }),
);
