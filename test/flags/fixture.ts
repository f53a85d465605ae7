import { env } from "cloudflare:workers";
import { controlDb } from "../../src/db/client";
import { flagOverrides } from "../../src/flags/table";

/** The tenant's override of `dataset-flag`, as PUT /v1/tenants/:id/flags/:key stores it (its event is the feed's). */
export async function storedFlagOverride(tenantId: string) {
  await controlDb(env)
    .insert(flagOverrides)
    .values({
      tenantId,
      flagKey: "dataset-flag",
      config: { enabled: false },
      createdAt: Date.now(),
      updatedAt: Date.now(),
    });
}
