import type { Principal } from "./auth/principal";
import type { ControlDb } from "./db/client";
import type { Emit } from "./events/domain";
import type { GateSession } from "./gate/session";
import type { TenantRoute } from "./routing/route";
import type { ShardStore } from "./shards/store";

export type { Principal };

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
    /**
     * The status of a response whose audit record the change committed itself (src/audit/request.ts);
     * the audit middleware writes a record for any other outcome.
     */
    auditedWith?: number;
    /** The tenant a presented key belongs to, once known, even if the key is then refused. */
    keyTenantId?: string | null;
    /** The presented key's public prefix, once parsed. */
    keyPrefix?: string;
    /** Entries the request created, replaced or deleted (the `entries_written` meter). */
    written?: number;
    /** The tenant's data shard, opened by `tenantShard()` on data routes (D1 or PostgreSQL). */
    shard: ShardStore;
  };
};
