import { z } from "zod";
import { defineMessage } from "../jobs/kind";

/** The daily aggregation of one tenant's usage of `day` (YYYY-MM-DD, UTC). */
export const aggregateUsageMessage = defineMessage(
  "aggregate-usage",
  z.object({ tenantId: z.string(), day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/) }),
);
