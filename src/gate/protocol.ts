import type { ProblemType } from "../http/problems";
import type { Scope } from "../keys/scopes";
import type { GateDecision } from "../metrics/cell";
import type { TenantRoute } from "../routing/route";
import type { CircuitState, CircuitView } from "./circuit-breaker";

/** The dependencies whose circuits a tenant's gate keeps. */
export type Dependency = "shard";

export type AdmitRequest = {
  tenantId: string;
  keyId: string;
  /** SHA-256 (hex) of the presented secret; the gate compares it with the stored one. */
  secretHash: string;
  /** The route version this isolate holds; the gate sends the route back only if it differs. */
  knownVersion: string | null;
  /** Slots of this isolate's finished requests, returned before this request is decided. */
  releases: Release[];
  /** The request writes tenant data: a tenant move's fence holds it back (src/moves). */
  write: boolean;
};

/**
 * A finished request's slot, and how its dependencies answered; or (no lease) a finished request's
 * metrics sample alone, which rides to the gate with the releases (src/metrics/middleware.ts).
 */
export type Release = { leaseId: string | null; outcomes: Outcome[]; sample?: RequestSample };

/** One finished request of a tenant key, as the gate aggregates it into the tenant's metrics. */
export type RequestSample = {
  method: string;
  /** The matched route's template (`/v1/tenants/:tenantId/entries`), never the path. */
  route: string;
  status: number;
  ms: number;
  /** Response body bytes. */
  bytes: number;
  decision: GateDecision;
  /** Entries the request created, replaced or deleted. */
  written?: number;
};

/** One call of a request to its shard: the store method called (never its arguments), how long, whether it failed. */
export type ShardTiming = { name: string; ms: number; failed: boolean };

/** One rate-limit policy's state, as the RateLimit-Policy / RateLimit fields describe it. */
export type PolicyState = {
  name: "tenant" | "key" | "monthly";
  quota: number;
  windowSeconds: number;
  remaining: number;
  /** Seconds until quota is restored (the draft's `t`). */
  resetSeconds: number;
};

export type CircuitStatus = { state: CircuitState; retryAfterMs: number };

export type Admitted = {
  admitted: true;
  principal: { keyId: string; userId: string | null; scopes: Scope[] };
  /** Present when the caller's `knownVersion` is out of date. */
  route?: TenantRoute;
  leaseId: string;
  policies: PolicyState[];
  /** Only circuits that are not closed. */
  circuits: Partial<Record<Dependency, CircuitStatus>>;
  /** True when the control database could not be reached and the gate used its stored copy. */
  stale: boolean;
};

export type Denied = {
  admitted: false;
  problem: ProblemType;
  detail?: string;
  retryAfterSeconds: number | null;
  policies: PolicyState[];
  extensions?: Record<string, unknown>;
};

export type AdmitResult = Admitted | Denied;

/**
 * How a request's calls to a dependency went: failed or not, or `null` when it never called it
 * (its body was refused first, say), which counts neither way and hands a probe back unused.
 */
export type Outcome = {
  dependency: Dependency;
  failed: boolean | null;
  probe: string | null;
  /** The shard called, and each call it made (for the shard's metrics and slow-query log). */
  shardId?: string;
  calls?: ShardTiming[];
};

/** A platform admin's data write, admitted past any move's fence, or refused. */
export type WriteResult = { admitted: true; leaseId: string } | Denied;

/** What raising a move's write fence achieved: `drained` once no write admitted before it runs. */
export type FenceResult = { raised: boolean; drained: boolean; inFlight: number };

export type PermitResult = { permitted: true; probe: string | null } | { permitted: false; retryAfterMs: number };

export type LimitsView = {
  tenant_id: string;
  tier: string | null;
  stale: boolean;
  rate_limits: {
    policy: string;
    limit: number;
    window_seconds: number;
    used: number;
    remaining: number;
    reset_seconds: number;
  }[];
  monthly_requests: { period: string; limit: number | null; used: number; resets_at: string };
  concurrency: { limit: number; in_flight: number };
  circuits: Record<string, CircuitView>;
};

export type ResetScope = "rate" | "quota" | "concurrency" | "circuits";

/** A row of one of the gate's storage tables, by column name (the tables hold TEXT and INTEGER only). */
export type GateRow = Record<string, string | number | null>;

/** Everything a gate stores: each storage table's rows (src/gate/dataset.ts lists the tables), in rowid order. */
export type GateState = Record<string, GateRow[]>;
