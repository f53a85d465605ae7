import { describe, expect, it } from "vitest";
import { effectiveLimits, makeRoute, type TenantLimits, UNKNOWN_TIER_LIMITS } from "../../src/routing/route";

const pro: TenantLimits = {
  requestsPerMinute: 600,
  maxConcurrency: 20,
  monthlyRequests: 1_000_000,
  maxEntries: 100_000,
  maxStorageBytes: 1024 * 1024 * 1024,
};

describe("effectiveLimits", () => {
  it("UNKNOWN_TIER_LIMITS is 10 requests a minute with small quotas", () => {
    expect(UNKNOWN_TIER_LIMITS).toEqual({
      requestsPerMinute: 10,
      maxConcurrency: 5,
      monthlyRequests: 10_000,
      maxEntries: 1_000,
      maxStorageBytes: 10 * 1024 * 1024,
    });
  });

  it("a missing plan falls back to UNKNOWN_TIER_LIMITS", () => {
    expect(effectiveLimits(null, {})).toEqual(UNKNOWN_TIER_LIMITS);
    expect(effectiveLimits(null, {}).requestsPerMinute).toBe(10);
  });

  it("without overrides the plan's limits apply unchanged", () => {
    expect(effectiveLimits(pro, {})).toEqual(pro);
  });

  it("returns a fresh object (does not alias the plan or the fallback)", () => {
    const limits = effectiveLimits(null, {});
    expect(limits).not.toBe(UNKNOWN_TIER_LIMITS);
    limits.requestsPerMinute = 999;
    expect(UNKNOWN_TIER_LIMITS.requestsPerMinute).toBe(10);
    expect(effectiveLimits(pro, {})).not.toBe(pro);
  });

  it("requests_per_minute replaces the plan's rate", () => {
    expect(effectiveLimits(pro, { requests_per_minute: 50 })).toEqual({ ...pro, requestsPerMinute: 50 });
    expect(effectiveLimits(null, { requests_per_minute: 5_000 })).toEqual({
      ...UNKNOWN_TIER_LIMITS,
      requestsPerMinute: 5_000,
    });
  });

  it("max_concurrency replaces the plan's concurrency", () => {
    expect(effectiveLimits(pro, { max_concurrency: 2 })).toEqual({ ...pro, maxConcurrency: 2 });
    expect(effectiveLimits(null, { max_concurrency: 64 })).toEqual({ ...UNKNOWN_TIER_LIMITS, maxConcurrency: 64 });
  });

  it("monthly_requests: a number replaces, null means unlimited, absent keeps the plan's", () => {
    expect(effectiveLimits(pro, { monthly_requests: 42 }).monthlyRequests).toBe(42);
    expect(effectiveLimits(pro, { monthly_requests: null }).monthlyRequests).toBeNull();
    expect(effectiveLimits(null, { monthly_requests: null }).monthlyRequests).toBeNull();
    expect(effectiveLimits(pro, {}).monthlyRequests).toBe(1_000_000);
    expect(effectiveLimits(null, {}).monthlyRequests).toBe(10_000);
    // A plan that is unlimited stays unlimited without an override, and can be limited by one.
    const unlimited = { ...pro, monthlyRequests: null };
    expect(effectiveLimits(unlimited, {}).monthlyRequests).toBeNull();
    expect(effectiveLimits(unlimited, { monthly_requests: 7 }).monthlyRequests).toBe(7);
  });

  it("a zero monthly override is kept as 0, not treated as absent", () => {
    expect(effectiveLimits(pro, { monthly_requests: 0 }).monthlyRequests).toBe(0);
  });

  it("all overrides together; entry and storage quotas always come from the plan", () => {
    expect(effectiveLimits(pro, { requests_per_minute: 1, max_concurrency: 1, monthly_requests: null })).toEqual({
      requestsPerMinute: 1,
      maxConcurrency: 1,
      monthlyRequests: null,
      maxEntries: 100_000,
      maxStorageBytes: 1024 * 1024 * 1024,
    });
  });

  it("a null rate or concurrency in stored JSON falls back to the plan", () => {
    const stored = JSON.parse('{"requests_per_minute":null,"max_concurrency":null}');
    expect(effectiveLimits(pro, stored)).toEqual(pro);
  });
});

describe("makeRoute", () => {
  type RouteInput = Parameters<typeof makeRoute>[0];
  const base = (): RouteInput => ({
    tenantId: "ten_01J0000000000000000000000",
    status: "ACTIVE",
    tier: "pro",
    shard: { id: "d1-shared-0", engine: "d1", binding: "SHARD_D1_0", status: "active" },
    limits: { ...pro },
  });

  it("keeps every field and adds a version string", () => {
    const input = base();
    const route = makeRoute(input);
    const { version, ...rest } = route;
    expect(rest).toEqual(input);
    expect(version).toEqual(expect.any(String));
    expect(version.length).toBeGreaterThan(0);
  });

  it("is deterministic: equal content gives an equal version", () => {
    expect(makeRoute(base()).version).toBe(makeRoute(base()).version);
    const copy = JSON.parse(JSON.stringify(base())) as RouteInput;
    expect(makeRoute(copy).version).toBe(makeRoute(base()).version);
  });

  it("does not include a previous version in the fingerprint", () => {
    const route = makeRoute(base());
    const { version: _version, ...content } = route;
    expect(makeRoute(content).version).toBe(route.version);
  });

  const changes: [string, (r: RouteInput) => RouteInput][] = [
    ["tenantId", (r) => ({ ...r, tenantId: "ten_01J0000000000000000000001" })],
    ["status", (r) => ({ ...r, status: "SUSPENDED" })],
    ["tier", (r) => ({ ...r, tier: "free" })],
    ["shard → null", (r) => ({ ...r, shard: null })],
    ["shard.id", (r) => ({ ...r, shard: { ...(r.shard as NonNullable<RouteInput["shard"]>), id: "d1-shared-1" } })],
    [
      "shard.binding",
      (r) => ({ ...r, shard: { ...(r.shard as NonNullable<RouteInput["shard"]>), binding: "SHARD_D1_1" } }),
    ],
    [
      "shard.status",
      (r) => ({ ...r, shard: { ...(r.shard as NonNullable<RouteInput["shard"]>), status: "draining" } }),
    ],
    ["limits.requestsPerMinute", (r) => ({ ...r, limits: { ...r.limits, requestsPerMinute: 601 } })],
    ["limits.maxConcurrency", (r) => ({ ...r, limits: { ...r.limits, maxConcurrency: 21 } })],
    ["limits.monthlyRequests → null", (r) => ({ ...r, limits: { ...r.limits, monthlyRequests: null } })],
    ["limits.monthlyRequests", (r) => ({ ...r, limits: { ...r.limits, monthlyRequests: 1_000_001 } })],
    ["limits.maxEntries", (r) => ({ ...r, limits: { ...r.limits, maxEntries: null } })],
    ["limits.maxStorageBytes", (r) => ({ ...r, limits: { ...r.limits, maxStorageBytes: 1 } })],
  ];

  it.each(changes)("a change to %s changes the version", (_name, change) => {
    expect(makeRoute(change(base())).version).not.toBe(makeRoute(base()).version);
  });

  it("every single-field change yields a distinct version", () => {
    const versions = new Set([
      makeRoute(base()).version,
      ...changes.map(([, change]) => makeRoute(change(base())).version),
    ]);
    expect(versions.size).toBe(changes.length + 1);
  });

  it("swapping two numeric limits changes the version", () => {
    const a = makeRoute({ ...base(), limits: { ...pro, requestsPerMinute: 20, maxConcurrency: 600 } });
    const b = makeRoute({ ...base(), limits: { ...pro, requestsPerMinute: 600, maxConcurrency: 20 } });
    expect(a.version).not.toBe(b.version);
  });

  it("many nearby rate limits all get distinct versions", () => {
    const versions = new Set<string>();
    for (let rpm = 1; rpm <= 2_000; rpm++) {
      versions.add(makeRoute({ ...base(), limits: { ...pro, requestsPerMinute: rpm } }).version);
    }
    expect(versions.size).toBe(2_000);
  });
});
