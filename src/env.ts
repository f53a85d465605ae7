import type { ControlDb } from "./db/client";
import type { Emit } from "./events/domain";
import type { GateSession } from "./gate/session";
import type { Scope } from "./keys/scopes";
import type { TenantRoute } from "./routing/route";
import type { ShardStore } from "./shards/store";

/** Who is calling, as established by the API key on the request. */
export type Principal =
  | { kind: "platform_admin"; keyId: string; scopes: readonly Scope[] }
  | { kind: "tenant"; keyId: string; tenantId: string; userId: string | null; scopes: readonly Scope[] };

export type AppEnv = {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** The control database (tenants, keys, users, shards, moves), for this request. */
    db: ControlDb;
    /** Announces control-plane changes (src/events); the domain functions making them call it. */
    emit: Emit;
    principal: Principal;
    /** The API key as presented; kept in memory only, to seal data for this caller alone. */
    credential: string;
    /** The gate's decision for a tenant key's request (absent for platform-admin keys). */
    gate?: GateSession;
    /** The route of the tenant named in the path, set once the caller may see that tenant. */
    route: TenantRoute;
    /** The tenant's data shard, opened by `tenantShard()` on data routes (D1 or PostgreSQL). */
    shard: ShardStore;
  };
};
