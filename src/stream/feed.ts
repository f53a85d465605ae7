import { controlDb } from "../db/client";
import { feedEvent } from "../events/event";
import { loadRoute } from "../routing/route";
import { openStore } from "../shards/connection";
import type { ShardStore } from "../shards/store";

// The stream's hub reads the tenant's feed where the tenant's data lives now (a move changes it).

async function onFeed<T>(env: Env, tenantId: string, read: (store: ShardStore) => Promise<T>): Promise<T> {
  const route = await loadRoute(controlDb(env), tenantId);
  if (!route?.shard) throw new Error(`tenant ${tenantId} has no shard`);
  const store = await openStore(env, route.shard);
  try {
    return await read(store);
  } finally {
    await store.close();
  }
}

/** The tenant's events after `afterSeq` up to `throughSeq`, oldest first, at most `limit`. */
export const feedAfter = (env: Env, tenantId: string, afterSeq: number, throughSeq: number, limit: number) =>
  onFeed(env, tenantId, async (store) =>
    (await store.feed.page(tenantId, afterSeq, limit)).map(feedEvent).filter((event) => event.seq <= throughSeq),
  );

export const newestSeq = (env: Env, tenantId: string) =>
  onFeed(env, tenantId, (store) => store.feed.newestSeq(tenantId));
