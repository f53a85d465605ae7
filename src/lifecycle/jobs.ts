import { defineJob } from "../jobs/kind";
import { purgeTenantMessage } from "./messages";
import { purgeTenantPass } from "./purge";

export const purgeTenant = defineJob(purgeTenantMessage, {
  run: async (env, { tenantId }) => {
    await purgeTenantPass(env, tenantId);
  },
  logFields: ({ tenantId }) => ({ tenant_id: tenantId }),
});
