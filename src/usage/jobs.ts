import { controlDb } from "../db/client";
import { defineJob } from "../jobs/kind";
import { aggregateUsageMessage } from "./messages";
import { dailyAggregation } from "./service";

export const aggregateUsage = defineJob(aggregateUsageMessage, {
  run: (env, { tenantId, day }) => dailyAggregation(controlDb(env), tenantId, Date.parse(`${day}T00:00:00Z`)),
  logFields: ({ tenantId, day }) => ({ tenant_id: tenantId, day }),
});
