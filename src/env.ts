import type { Scope } from "./keys/scopes";
import type { ShardDb } from "./shards/connection";
import type { Tenant } from "./tenants/schema";

/** Who is calling, as established by the API key on the request. */
export type Principal =
  | { kind: "platform_admin"; keyId: string; scopes: readonly Scope[] }
  | { kind: "tenant"; keyId: string; tenantId: string; userId: string | null; scopes: readonly Scope[] };

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    principal: Principal;
    /** The API key as presented; kept in memory only, to seal data for this caller alone. */
    credential: string;
    /** The tenant named in the path, loaded once the caller is allowed to see it. */
    tenant: Tenant;
    /** The tenant's data shard, opened by `tenantShard()` on data routes. */
    shardDb: ShardDb;
  };
};
