import { describe, expect, it } from "vitest";
import { CircuitBreaker } from "../../src/gate/circuit-breaker";
import { SlidingWindowLog } from "../../src/gate/sliding-window";
import { limitsView } from "../../src/gate/view";
import { makeRoute } from "../../src/routing/route";

const NOW = Date.UTC(2026, 11, 1, 12, 0, 30);

const route = makeRoute({
  tenantId: "ten_1",
  status: "ACTIVE",
  tier: "STANDARD",
  shard: { id: "shard_a", engine: "d1", binding: "SHARD_D1_0", status: "active" },
  limits: { requestsPerMinute: 10, maxConcurrency: 3, monthlyRequests: 1_000, maxEntries: null, maxStorageBytes: null },
});

const windowWith = (...ago: number[]) => {
  const window = new SlidingWindowLog(60_000);
  window.load(ago.map((ms) => NOW - ms).sort((a, b) => a - b));
  return window;
};

describe("the operator view of a gate", () => {
  it("reports each policy's use, the month's quota, slots in flight and circuits", () => {
    const view = limitsView({
      tenantId: "ten_1",
      now: NOW,
      route,
      stale: false,
      tenantWindow: windowWith(50_000, 10_000, 1_000),
      keyWindows: new Map([
        ["key_limited", windowWith(20_000)],
        ["key_open", windowWith(5_000)],
      ]),
      keyLimit: (keyId) => (keyId === "key_limited" ? 2 : null),
      quotaUsed: 42,
      inFlight: 1,
      circuits: new Map([["shard", new CircuitBreaker()]]),
    });
    expect(view).toMatchObject({
      tenant_id: "ten_1",
      tier: "STANDARD",
      stale: false,
      rate_limits: [
        { policy: "tenant", limit: 10, window_seconds: 60, used: 3, remaining: 7, reset_seconds: 10 },
        { policy: "key:key_limited", limit: 2, used: 1, remaining: 1, reset_seconds: 40 },
      ],
      monthly_requests: { period: "2026-12", limit: 1_000, used: 42, resets_at: "2027-01-01T00:00:00.000Z" },
      concurrency: { limit: 3, in_flight: 1 },
    });
    expect(Object.keys(view.circuits)).toEqual(["shard"]);
  });

  it("lists no rate limits for a tenant whose route is unknown", () => {
    const view = limitsView({
      tenantId: "ten_2",
      now: NOW,
      route: null,
      stale: true,
      tenantWindow: windowWith(),
      keyWindows: new Map(),
      keyLimit: () => null,
      quotaUsed: 0,
      inFlight: 0,
      circuits: new Map(),
    });
    expect(view).toMatchObject({ tier: null, stale: true, rate_limits: [], concurrency: { limit: 0, in_flight: 0 } });
    expect(view.monthly_requests.limit).toBeNull();
  });
});
