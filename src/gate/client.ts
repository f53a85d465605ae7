import { errorText } from "../db/errors";
import { routeCache } from "../routing/cache";

/** The tenant's gate: one Durable Object per tenant, addressed by the tenant id. */
export const gateOf = (env: Env, tenantId: string) => env.TENANT_GATE.get(env.TENANT_GATE.idFromName(tenantId));

/**
 * Tells every cache about a change to the tenant (status, tier, limits, shard) or to one of its
 * keys or users: this isolate forgets its route, and the gate reloads at once, so the next request
 * from any isolate sees the change. Should the gate be unreachable, it still reloads on its own
 * within GATE_MAX_STALENESS_MS.
 */
export async function tenantChanged(env: Env, tenantId: string) {
  routeCache(env).delete(tenantId);
  try {
    await gateOf(env, tenantId).invalidate(tenantId);
  } catch (error) {
    console.warn(
      JSON.stringify({ level: "warn", msg: "gate invalidation failed", tenant_id: tenantId, error: errorText(error) }),
    );
  }
}
