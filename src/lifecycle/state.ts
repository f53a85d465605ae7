import { eq } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { tenants } from "../tenants/table";

/**
 * Whether the tenant is gone or its purge has begun: nothing may write its data again (the relay,
 * the events consumer), or a row would outlive the purge.
 */
export async function purging(db: ControlDb, tenantId: string): Promise<boolean> {
  const [tenant] = await db
    .select({ purgeStartedAt: tenants.purgeStartedAt })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
    .limit(1);
  return tenant === undefined || tenant.purgeStartedAt !== null;
}
