import type { ControlDb } from "../db/client";
import { gateOf } from "../gate/client";
import type { WriteResult } from "../gate/protocol";
import { purging } from "../lifecycle/state";
import { loadRoute } from "../routing/route";
import { openStore } from "../shards/connection";
import type { ShardStore } from "../shards/store";

/**
 * Runs `work` on the tenant's current shard as a data write its gate admits, so a move's write
 * fence holds the relay back as it holds requests back: nothing is appended to a shard the tenant
 * is leaving. False when the tenant has no shard or the gate held the write back.
 */
export async function onTenantShard(
  env: Env,
  db: ControlDb,
  tenantId: string,
  work: (store: ShardStore) => Promise<void>,
): Promise<boolean> {
  const route = await loadRoute(db, tenantId);
  // Not before provisioning has settled: a retry may still place the tenant on another shard.
  if (!route?.shard || route.status === "PROVISIONING" || route.status === "PROVISION_ERROR") return false;
  // Nor once its purge has begun: what it would append is being deleted.
  if (route.status === "DELETED" && (await purging(db, tenantId))) return false;
  // Nor while it is archived: rows appended after its archive was read would be dropped with the
  // shard data; they wait in the outbox for the shard it is rehydrated onto.
  if (route.status === "ARCHIVED") return false;
  const gate = gateOf(env, tenantId);
  const admitted = (await gate.admitWrite(tenantId, route.shard.id)) as WriteResult;
  if (!admitted.admitted) return false;
  try {
    const store = await openStore(env, route.shard);
    try {
      await work(store);
    } finally {
      await store.close();
    }
  } finally {
    await gate.releaseWrite(admitted.leaseId, []);
  }
  return true;
}
