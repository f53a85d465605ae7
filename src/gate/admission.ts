import { digestsEqual } from "../keys/secret";
import type { GateKey } from "../keys/service";
import type { TenantRoute } from "../routing/route";
import type { AdmitRequest, Denied, PolicyState } from "./protocol";
import { quotaPeriod } from "./quota-period";
import { SlidingWindowLog } from "./sliding-window";

/** Rate limits are per minute: the window of every RateLimit policy. */
export const WINDOW_MS = 60_000;

/** What admission reads of a sliding window; it never records. */
export type WindowReader = Pick<SlidingWindowLog, "count" | "waitMs" | "nextRestoreMs">;

/** The window of a key that has no admissions recorded; reading it changes nothing. */
const EMPTY_WINDOW: WindowReader = new SlidingWindowLog(WINDOW_MS);

/** The counters the limits are checked against, as they stand before the request. */
export type Usage = {
  tenantWindow: WindowReader;
  /** The key's own window; undefined while none is kept for it. */
  keyWindow: WindowReader | undefined;
  /** Requests counted in the quota period `now` falls in. */
  quotaUsed: number;
};

/** Everything one admission decision reads. */
export type AdmissionState = Usage & {
  now: number;
  request: Pick<AdmitRequest, "secretHash" | "write">;
  /** The gate's copy of the route and of the request's key; missing when the copy lacks them. */
  route: TenantRoute | null;
  key: GateKey | undefined;
  /** The copy could not be refreshed from the control database. */
  stale: boolean;
  /** A move's fence stands, holding data writes back. */
  fenceHeld: boolean;
  /** Requests holding a bulkhead slot. */
  inFlight: number;
};

/** An admission, and what the gate must record for it. */
export type Admit = {
  admitted: true;
  route: TenantRoute;
  key: GateKey;
  /** The key whose window counts the request besides the tenant's; null when it has no limit. */
  keyWindow: string | null;
  /** A data write: its lease is one a move's fence waits for. */
  write: boolean;
};

export function denied(
  problem: Denied["problem"],
  retryAfterMs: number | null,
  policies: PolicyState[],
  detail?: string,
): Denied {
  return {
    admitted: false,
    problem,
    detail,
    retryAfterSeconds: retryAfterMs === null ? null : Math.max(1, Math.ceil(retryAfterMs / 1000)),
    policies,
  };
}

/** A data write held back by a move's fence. */
export const fenced = (): Denied =>
  denied("tenant-moving", 1_000, [], "The tenant's data is being moved to another shard; writes resume shortly");

/**
 * Decides a tenant key's request: key, tenant status, fence, monthly quota, tenant and key rate,
 * bulkhead, in that order, the first that fails deciding. Pure, so the gate can decide and record
 * without awaiting in between, which keeps its limits exact under concurrency.
 */
export function admission(state: AdmissionState): Admit | Denied {
  const { now, request, route, key } = state;
  if (!route || !key) {
    // A key the copy does not hold cannot be verified while the control database is down.
    return state.stale ? denied("control-plane-unavailable", 1_000, []) : denied("invalid-api-key", null, []);
  }
  if (
    !digestsEqual(key.secretHash, request.secretHash) ||
    key.revokedAt !== null ||
    (key.expiresAt !== null && key.expiresAt <= now)
  ) {
    return denied("invalid-api-key", null, []);
  }
  if (route.status === "SUSPENDED") return denied("tenant-suspended", null, []);
  // A soft-deleted tenant's keys open nothing (a platform admin may still restore it).
  if (route.status === "DELETED") return denied("invalid-api-key", null, []);
  if (request.write && state.fenceHeld) return fenced();

  const limits = route.limits;
  const keyLimit = key.rateLimitPerMinute;
  // Only a refusal needs the state before this request; most requests never build it.
  const policies = () => policyStates(now, route, keyLimit, state);
  if (limits.monthlyRequests !== null && state.quotaUsed >= limits.monthlyRequests) {
    const period = quotaPeriod(now);
    return {
      ...denied(
        "quota-exhausted",
        period.end - now,
        policies(),
        `The monthly quota of ${limits.monthlyRequests} requests is used up`,
      ),
      extensions: { quota: limits.monthlyRequests, period: period.id, resets_at: new Date(period.end).toISOString() },
    };
  }
  const tenantWait = state.tenantWindow.waitMs(now, limits.requestsPerMinute);
  if (tenantWait > 0) {
    return denied(
      "rate-limited",
      tenantWait,
      policies(),
      `The tenant's limit of ${limits.requestsPerMinute} requests per minute is reached`,
    );
  }
  const keyWait = keyLimit === null ? 0 : (state.keyWindow ?? EMPTY_WINDOW).waitMs(now, keyLimit);
  if (keyWait > 0) {
    return denied(
      "rate-limited",
      keyWait,
      policies(),
      `This key's limit of ${keyLimit} requests per minute is reached`,
    );
  }
  if (state.inFlight >= limits.maxConcurrency) {
    return {
      ...denied(
        "concurrency-limit",
        1_000,
        policies(),
        `At most ${limits.maxConcurrency} requests of the tenant may be in flight`,
      ),
      extensions: { max_concurrency: limits.maxConcurrency },
    };
  }
  return { admitted: true, route, key, keyWindow: keyLimit === null ? null : key.id, write: request.write };
}

/**
 * Decides a platform admin's data write: held back by a move's fence, and refused when the
 * caller's route names a shard the tenant has left; null when it may proceed.
 */
export function writeDenial(fenceHeld: boolean, route: TenantRoute | null, shardId: string): Denied | null {
  if (fenceHeld) return fenced();
  if (route?.shard?.id !== shardId) {
    return denied("tenant-moving", 1_000, [], "The tenant's data has moved to another shard; retry");
  }
  return null;
}

/** The RateLimit policies of a request with this key (`keyLimit` its own limit, if any). */
export function policyStates(now: number, route: TenantRoute, keyLimit: number | null, usage: Usage): PolicyState[] {
  const states: PolicyState[] = [windowState("tenant", usage.tenantWindow, route.limits.requestsPerMinute, now)];
  if (keyLimit !== null) states.push(windowState("key", usage.keyWindow ?? EMPTY_WINDOW, keyLimit, now));
  if (route.limits.monthlyRequests !== null) {
    const period = quotaPeriod(now);
    states.push({
      name: "monthly",
      quota: route.limits.monthlyRequests,
      windowSeconds: Math.round((period.end - period.start) / 1000),
      remaining: Math.max(0, route.limits.monthlyRequests - usage.quotaUsed),
      resetSeconds: Math.ceil((period.end - now) / 1000),
    });
  }
  return states;
}

function windowState(name: "tenant" | "key", window: WindowReader, limit: number, now: number): PolicyState {
  return {
    name,
    quota: limit,
    windowSeconds: WINDOW_MS / 1000,
    remaining: Math.max(0, limit - window.count(now)),
    resetSeconds: Math.ceil(window.nextRestoreMs(now) / 1000),
  };
}
