import { controlDb } from "../db/client";
import { defineJob } from "../jobs/kind";
import { backupTenantMessage } from "./messages";
import { dailyBackup } from "./service";

export const backupTenant = defineJob(backupTenantMessage, {
  run: (env, { tenantId, day }) => dailyBackup(controlDb(env), env, tenantId, day),
  logFields: ({ tenantId, day }) => ({ tenant_id: tenantId, day }),
});
