import { describe, expect, it } from "vitest";
import { type AdmissionState, admission, writeDenial } from "../../src/gate/admission";
import { SlidingWindowLog } from "../../src/gate/sliding-window";
import type { GateKey } from "../../src/keys/service";
import { makeRoute, type TenantLimits, type TenantRoute } from "../../src/routing/route";

/** One minute before the end of January 2030 (UTC), so the quota period resets in 60 s. */
const NOW = Date.UTC(2030, 0, 31, 23, 59, 0);
const JANUARY_SECONDS = 31 * 24 * 60 * 60;
const HASH = "ab".repeat(32);

const window = (...hits: number[]) => {
  const log = new SlidingWindowLog(60_000);
  log.load(hits);
  return log;
};

const keyOf = (overrides: Partial<GateKey> = {}): GateKey => ({
  id: "key_1",
  userId: null,
  secretHash: HASH,
  scopes: ["entries:read"],
  expiresAt: null,
  revokedAt: null,
  rateLimitPerMinute: null,
  userRole: null,
  ...overrides,
});

const routeOf = (limits: Partial<TenantLimits> = {}, status: TenantRoute["status"] = "ACTIVE") =>
  makeRoute({
    tenantId: "ten_1",
    status,
    tier: "STANDARD",
    shard: { id: "shard_a", engine: "d1", binding: "SHARD_D1_0", status: "active" },
    limits: {
      requestsPerMinute: 10,
      maxConcurrency: 2,
      monthlyRequests: 1_000,
      maxEntries: null,
      maxStorageBytes: null,
      ...limits,
    },
  });

/** A state in which every check passes; each test breaks what it is about. */
const stateOf = (overrides: Partial<AdmissionState> = {}): AdmissionState => ({
  now: NOW,
  request: { secretHash: HASH, write: false },
  route: routeOf(),
  key: keyOf(),
  stale: false,
  fenceHeld: false,
  inFlight: 0,
  tenantWindow: window(),
  keyWindow: undefined,
  quotaUsed: 0,
  ...overrides,
});

const invalidKey = {
  admitted: false,
  problem: "invalid-api-key",
  detail: undefined,
  retryAfterSeconds: null,
  policies: [],
};

const monthly = (remaining: number) => ({
  name: "monthly",
  quota: 1_000,
  windowSeconds: JANUARY_SECONDS,
  remaining,
  resetSeconds: 60,
});

const deepFreeze = <T>(value: T): T => {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const inner of Object.values(value)) deepFreeze(inner);
  }
  return value;
};

describe("admission: admitted", () => {
  it("admits when every check passes, counting the tenant's window only for a key without a limit", () => {
    const state = stateOf();
    expect(admission(state)).toStrictEqual({
      admitted: true,
      route: state.route,
      key: state.key,
      keyWindow: null,
      write: false,
    });
  });

  it("counts the key's own window too when the key has a limit, and says a write is a write", () => {
    const state = stateOf({ key: keyOf({ rateLimitPerMinute: 5 }), request: { secretHash: HASH, write: true } });
    expect(admission(state)).toMatchObject({ admitted: true, keyWindow: "key_1", write: true });
  });

  it("admits up to one below each limit", () => {
    const state = stateOf({
      key: keyOf({ rateLimitPerMinute: 2 }),
      quotaUsed: 999,
      tenantWindow: window(...Array.from({ length: 9 }, (_, i) => NOW - 1_000 * (i + 1))),
      keyWindow: window(NOW - 1_000),
      inFlight: 1,
    });
    expect(admission(state).admitted).toBe(true);
  });

  it("does not count hits that have left the minute", () => {
    const state = stateOf({ tenantWindow: window(...Array.from({ length: 10 }, () => NOW - 60_000)) });
    expect(admission(state).admitted).toBe(true);
  });

  it("admits reads while a move's fence stands", () => {
    expect(admission(stateOf({ fenceHeld: true })).admitted).toBe(true);
  });

  it("has no monthly quota to exhaust when the plan has none", () => {
    const state = stateOf({ route: routeOf({ monthlyRequests: null }), quotaUsed: 1_000_000 });
    expect(admission(state).admitted).toBe(true);
  });

  it("admits a key that expires after now", () => {
    expect(admission(stateOf({ key: keyOf({ expiresAt: NOW + 1 }) })).admitted).toBe(true);
  });
});

describe("admission: the key", () => {
  it("refuses a key the copy does not hold as invalid", () => {
    expect(admission(stateOf({ key: undefined }))).toStrictEqual(invalidKey);
    expect(admission(stateOf({ route: null }))).toStrictEqual(invalidKey);
  });

  it("says the control plane is unavailable instead when the copy is stale", () => {
    expect(admission(stateOf({ key: undefined, stale: true }))).toStrictEqual({
      admitted: false,
      problem: "control-plane-unavailable",
      detail: undefined,
      retryAfterSeconds: 1,
      policies: [],
    });
  });

  it("refuses a secret whose hash differs from the stored one", () => {
    const differs = `${HASH.slice(0, -1)}c`;
    expect(admission(stateOf({ request: { secretHash: differs, write: false } }))).toStrictEqual(invalidKey);
    expect(admission(stateOf({ request: { secretHash: HASH.slice(1), write: false } }))).toStrictEqual(invalidKey);
  });

  it("refuses a revoked key", () => {
    expect(admission(stateOf({ key: keyOf({ revokedAt: NOW - 1 }) }))).toStrictEqual(invalidKey);
  });

  it("refuses a key from the instant it expires", () => {
    expect(admission(stateOf({ key: keyOf({ expiresAt: NOW }) }))).toStrictEqual(invalidKey);
  });

  it("serves a stale copy's key as usual", () => {
    expect(admission(stateOf({ stale: true })).admitted).toBe(true);
    expect(admission(stateOf({ stale: true, key: keyOf({ revokedAt: NOW - 1 }) }))).toStrictEqual(invalidKey);
    expect(admission(stateOf({ stale: true, request: { secretHash: HASH.slice(1), write: false } }))).toStrictEqual(
      invalidKey,
    );
  });
});

describe("admission: tenant and fence", () => {
  it("refuses every request of a suspended tenant", () => {
    expect(admission(stateOf({ route: routeOf({}, "SUSPENDED") }))).toStrictEqual({
      admitted: false,
      problem: "tenant-suspended",
      detail: undefined,
      retryAfterSeconds: null,
      policies: [],
    });
  });

  it("holds a write back while a move's fence stands", () => {
    const state = stateOf({ fenceHeld: true, request: { secretHash: HASH, write: true } });
    expect(admission(state)).toStrictEqual({
      admitted: false,
      problem: "tenant-moving",
      detail: "The tenant's data is being moved to another shard; writes resume shortly",
      retryAfterSeconds: 1,
      policies: [],
    });
  });
});

describe("admission: limits", () => {
  it("refuses once the monthly quota is used up, until the month ends", () => {
    const state = stateOf({ quotaUsed: 1_000, tenantWindow: window(NOW - 20_000, NOW - 10_000) });
    expect(admission(state)).toStrictEqual({
      admitted: false,
      problem: "quota-exhausted",
      detail: "The monthly quota of 1000 requests is used up",
      retryAfterSeconds: 60,
      policies: [{ name: "tenant", quota: 10, windowSeconds: 60, remaining: 8, resetSeconds: 40 }, monthly(0)],
      extensions: { quota: 1_000, period: "2030-01", resets_at: "2030-02-01T00:00:00.000Z" },
    });
  });

  it("refuses at the tenant's rate limit until its oldest hit in the minute leaves it", () => {
    const hits = [NOW - 49_500, ...Array.from({ length: 9 }, () => NOW - 1_000)];
    const state = stateOf({ quotaUsed: 10, tenantWindow: window(...hits) });
    expect(admission(state)).toStrictEqual({
      admitted: false,
      problem: "rate-limited",
      detail: "The tenant's limit of 10 requests per minute is reached",
      retryAfterSeconds: 11,
      policies: [{ name: "tenant", quota: 10, windowSeconds: 60, remaining: 0, resetSeconds: 11 }, monthly(990)],
    });
  });

  it("rounds a wait of a fraction of a second up to a second", () => {
    const hits = [NOW - 59_800, ...Array.from({ length: 9 }, () => NOW - 1_000)];
    expect(admission(stateOf({ tenantWindow: window(...hits) }))).toMatchObject({
      problem: "rate-limited",
      retryAfterSeconds: 1,
    });
  });

  it("refuses at the key's own rate limit, reporting both windows", () => {
    const state = stateOf({
      key: keyOf({ rateLimitPerMinute: 2 }),
      tenantWindow: window(NOW - 30_000, NOW - 20_000, NOW - 5_000),
      keyWindow: window(NOW - 30_000, NOW - 20_000),
    });
    expect(admission(state)).toStrictEqual({
      admitted: false,
      problem: "rate-limited",
      detail: "This key's limit of 2 requests per minute is reached",
      retryAfterSeconds: 30,
      policies: [
        { name: "tenant", quota: 10, windowSeconds: 60, remaining: 7, resetSeconds: 30 },
        { name: "key", quota: 2, windowSeconds: 60, remaining: 0, resetSeconds: 30 },
        monthly(1_000),
      ],
    });
  });

  it("refuses a key limited to nothing for a whole minute, though it has no window yet", () => {
    expect(admission(stateOf({ key: keyOf({ rateLimitPerMinute: 0 }) }))).toMatchObject({
      problem: "rate-limited",
      retryAfterSeconds: 60,
      policies: [
        { name: "tenant", remaining: 10 },
        { name: "key", quota: 0, remaining: 0, resetSeconds: 0 },
        { name: "monthly" },
      ],
    });
  });

  it("refuses when the bulkhead is full", () => {
    const state = stateOf({ inFlight: 2, key: keyOf({ rateLimitPerMinute: 5 }), keyWindow: window(NOW - 2_000) });
    expect(admission(state)).toStrictEqual({
      admitted: false,
      problem: "concurrency-limit",
      detail: "At most 2 requests of the tenant may be in flight",
      retryAfterSeconds: 1,
      policies: [
        { name: "tenant", quota: 10, windowSeconds: 60, remaining: 10, resetSeconds: 0 },
        { name: "key", quota: 5, windowSeconds: 60, remaining: 4, resetSeconds: 58 },
        monthly(1_000),
      ],
      extensions: { max_concurrency: 2 },
    });
  });

  it("reports no monthly policy for a plan without a quota", () => {
    const state = stateOf({ route: routeOf({ monthlyRequests: null }), inFlight: 2 });
    expect(admission(state)).toMatchObject({ problem: "concurrency-limit", policies: [{ name: "tenant" }] });
  });
});

describe("admission: order of precedence", () => {
  it("reports the first failing check, from the key down to the bulkhead", () => {
    const full = (count: number) => window(...Array.from({ length: count }, () => NOW - 1_000));
    let state = stateOf({
      request: { secretHash: `${HASH.slice(0, -1)}c`, write: true },
      route: routeOf({}, "SUSPENDED"),
      key: keyOf({ rateLimitPerMinute: 3 }),
      fenceHeld: true,
      quotaUsed: 1_000,
      tenantWindow: full(10),
      keyWindow: full(3),
      inFlight: 2,
    });
    const steps: [string | undefined, Partial<AdmissionState>][] = [
      ["invalid-api-key", { request: { secretHash: HASH, write: true } }],
      ["tenant-suspended", { route: routeOf() }],
      ["tenant-moving", { fenceHeld: false }],
      ["quota-exhausted", { quotaUsed: 0 }],
      ["rate-limited", { tenantWindow: window() }],
      ["rate-limited", { keyWindow: window() }],
      ["concurrency-limit", { inFlight: 0 }],
      [undefined, {}],
    ];
    const seen: (string | undefined)[] = [];
    const details: (string | undefined)[] = [];
    for (const [, fix] of steps) {
      const result = admission(state);
      seen.push(result.admitted ? undefined : result.problem);
      details.push(result.admitted ? undefined : result.detail);
      state = { ...state, ...fix };
    }
    expect(seen).toEqual(steps.map(([problem]) => problem));
    expect(details[4]).toBe("The tenant's limit of 10 requests per minute is reached");
    expect(details[5]).toBe("This key's limit of 3 requests per minute is reached");
  });
});

describe("admission: purity", () => {
  it("changes nothing in the state it decides on, admitted or refused", () => {
    const states = [
      stateOf({ key: keyOf({ rateLimitPerMinute: 2 }), keyWindow: window(NOW - 1_000) }),
      stateOf({ quotaUsed: 1_000, tenantWindow: window(NOW - 3_000) }),
      stateOf({ tenantWindow: window(...Array.from({ length: 10 }, () => NOW - 1_000)) }),
      stateOf({ key: keyOf({ rateLimitPerMinute: 1 }), keyWindow: window(NOW - 1_000) }),
      stateOf({ inFlight: 2 }),
      stateOf({ fenceHeld: true, request: { secretHash: HASH, write: true } }),
    ];
    for (const state of states) {
      const before = structuredClone(state);
      const counts = [state.tenantWindow.count(NOW), state.keyWindow?.count(NOW)];
      // Frozen: any write to the state, its windows included, throws.
      const first = admission(deepFreeze(state));
      expect(state).toEqual(before);
      expect([state.tenantWindow.count(NOW), state.keyWindow?.count(NOW)]).toEqual(counts);
      expect(admission(state)).toStrictEqual(first);
    }
  });

  it("leaves the windows to the caller: an admission records nothing in them", () => {
    const state = stateOf({ key: keyOf({ rateLimitPerMinute: 2 }), keyWindow: window() });
    expect(admission(state).admitted).toBe(true);
    expect(state.tenantWindow.count(NOW)).toBe(0);
    expect(state.keyWindow?.count(NOW)).toBe(0);
  });
});

describe("writeDenial: a platform admin's data write", () => {
  it("may proceed when no fence stands and the route names the tenant's shard", () => {
    expect(writeDenial(false, routeOf(), "shard_a")).toBeNull();
  });

  it("is held back while a move's fence stands", () => {
    expect(writeDenial(true, routeOf(), "shard_a")).toStrictEqual({
      admitted: false,
      problem: "tenant-moving",
      detail: "The tenant's data is being moved to another shard; writes resume shortly",
      retryAfterSeconds: 1,
      policies: [],
    });
  });

  it("is refused when the caller's route names a shard the tenant has left", () => {
    const moved = {
      admitted: false,
      problem: "tenant-moving",
      detail: "The tenant's data has moved to another shard; retry",
      retryAfterSeconds: 1,
      policies: [],
    };
    expect(writeDenial(false, routeOf(), "shard_b")).toStrictEqual(moved);
    expect(writeDenial(false, null, "shard_a")).toStrictEqual(moved);
  });
});
