import { controlDb } from "../db/client";
import { domainEvents, systemOrigin } from "../events/listeners";
import { defineJob } from "../jobs/kind";
import { hibernate } from "./archival";
import { archiveTenantMessage, purgeTenantMessage } from "./messages";
import { purgeTenantPass } from "./purge";

export const purgeTenant = defineJob(purgeTenantMessage, {
  run: async (env, { tenantId }) => {
    await purgeTenantPass(env, tenantId);
  },
  logFields: ({ tenantId }) => ({ tenant_id: tenantId }),
});

export const archiveTenant = defineJob(archiveTenantMessage, {
  run: async (env, { tenantId, at }) => {
    await hibernate(
      controlDb(env),
      domainEvents(env, () => systemOrigin("archival")),
      env,
      tenantId,
      at,
    );
  },
  logFields: ({ tenantId }) => ({ tenant_id: tenantId }),
});
