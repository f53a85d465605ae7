import type { TenantRoute } from "../routing/route";
import { WINDOW_MS } from "./admission";
import type { CircuitBreaker } from "./circuit-breaker";
import type { Dependency, LimitsView } from "./protocol";
import { quotaPeriod } from "./quota-period";
import type { SlidingWindowLog } from "./sliding-window";

/** What the operator view of a gate is made from: its state at `now`. */
export type ViewState = {
  tenantId: string;
  now: number;
  route: TenantRoute | null;
  stale: boolean;
  tenantWindow: SlidingWindowLog;
  keyWindows: ReadonlyMap<string, SlidingWindowLog>;
  /** A key's own per-minute limit, or null/undefined when it has none (or is not in the copy). */
  keyLimit: (keyId: string) => number | null | undefined;
  quotaUsed: number;
  inFlight: number;
  circuits: ReadonlyMap<Dependency, CircuitBreaker>;
};

function usage(window: SlidingWindowLog, limit: number, now: number) {
  const used = window.count(now);
  return {
    limit,
    window_seconds: WINDOW_MS / 1000,
    used,
    remaining: Math.max(0, limit - used),
    reset_seconds: Math.ceil(window.nextRestoreMs(now) / 1000),
  };
}

/** The operator view of a tenant's limits (GET /v1/tenants/:id/limits): usage against every policy. */
export function limitsView(state: ViewState): LimitsView {
  const { now, route } = state;
  const limits = route?.limits;
  const period = quotaPeriod(now);
  const rateLimits = limits
    ? [
        { policy: "tenant", ...usage(state.tenantWindow, limits.requestsPerMinute, now) },
        ...[...state.keyWindows]
          .filter(([keyId]) => state.keyLimit(keyId) != null)
          .map(([keyId, window]) => ({ policy: `key:${keyId}`, ...usage(window, state.keyLimit(keyId) ?? 0, now) })),
      ]
    : [];
  return {
    tenant_id: state.tenantId,
    tier: route?.tier ?? null,
    stale: state.stale,
    rate_limits: rateLimits,
    monthly_requests: {
      period: period.id,
      limit: limits?.monthlyRequests ?? null,
      used: state.quotaUsed,
      resets_at: new Date(period.end).toISOString(),
    },
    concurrency: { limit: limits?.maxConcurrency ?? 0, in_flight: state.inFlight },
    circuits: Object.fromEntries([...state.circuits].map(([dependency, breaker]) => [dependency, breaker.view(now)])),
  };
}
