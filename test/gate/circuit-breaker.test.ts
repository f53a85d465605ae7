import { describe, expect, it } from "vitest";
import {
  CircuitBreaker,
  type CircuitConfig,
  type CircuitSnapshot,
  DEFAULT_CIRCUIT,
  type Permit,
} from "../../src/gate/circuit-breaker";

const T0 = Date.UTC(2030, 0, 15, 12, 0, 0);

const config = (overrides: Partial<CircuitConfig>): CircuitConfig => ({ ...DEFAULT_CIRCUIT, ...overrides });

function recordMany(breaker: CircuitBreaker, now: number, outcomes: boolean[]) {
  for (const failed of outcomes) breaker.record(now, failed);
}

const failures = (n: number) => Array<boolean>(n).fill(true);
const successes = (n: number) => Array<boolean>(n).fill(false);

/** Opens a default breaker at `at` with 20 failures. */
function openedAt(at: number, cfg: CircuitConfig = DEFAULT_CIRCUIT) {
  const breaker = new CircuitBreaker(cfg);
  recordMany(breaker, at, failures(Math.max(cfg.minimumCalls, 1)));
  expect(breaker.current(at)).toBe("open");
  return breaker;
}

function probeId(permit: Permit): string {
  if (!permit.permitted) throw new Error("expected a permit");
  if (permit.probe === null) throw new Error("expected a probe");
  return permit.probe;
}

function probes(breaker: CircuitBreaker, now: number, n: number): string[] {
  return Array.from({ length: n }, () => probeId(breaker.permit(now)));
}

describe("DEFAULT_CIRCUIT", () => {
  it("has the documented values", () => {
    expect(DEFAULT_CIRCUIT).toEqual({
      windowSize: 100,
      failureRateThreshold: 0.5,
      minimumCalls: 20,
      openMs: 30_000,
      halfOpenProbes: 5,
      probeTimeoutMs: 60_000,
    });
  });

  it("is what the constructor uses without a config", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, failures(19));
    expect(breaker.current(T0)).toBe("closed");
    breaker.record(T0, true);
    expect(breaker.current(T0)).toBe("open");
    expect(breaker.permit(T0 + 29_999)).toEqual({ permitted: false, retryAfterMs: 1 });
    expect(breaker.current(T0 + 30_000)).toBe("half_open");
  });
});

describe("CircuitBreaker: closed", () => {
  it("starts closed and permits without a probe", () => {
    const breaker = new CircuitBreaker();
    expect(breaker.current(T0)).toBe("closed");
    expect(breaker.permit(T0)).toEqual({ permitted: true, probe: null });
    expect(breaker.retryAfterMs(T0)).toBe(0);
  });

  it("stays closed below minimumCalls even at 100% failures", () => {
    const breaker = new CircuitBreaker();
    for (let i = 1; i <= 19; i++) {
      breaker.record(T0 + i, true);
      expect(breaker.current(T0 + i)).toBe("closed");
      expect(breaker.permit(T0 + i)).toEqual({ permitted: true, probe: null });
    }
    breaker.record(T0 + 20, true);
    expect(breaker.current(T0 + 20)).toBe("open");
  });

  it("opens at exactly 50%: 10 failures then 10 successes", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, failures(10));
    recordMany(breaker, T0, successes(9));
    expect(breaker.current(T0)).toBe("closed");
    breaker.record(T0 + 5, false);
    expect(breaker.current(T0 + 5)).toBe("open");
    expect(breaker.view(T0 + 5).opened_at).toBe(new Date(T0 + 5).toISOString());
  });

  it("opens at exactly 50%: 10 successes then 10 failures", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, successes(10));
    recordMany(breaker, T0, failures(9));
    expect(breaker.current(T0)).toBe("closed");
    breaker.record(T0, true);
    expect(breaker.current(T0)).toBe("open");
  });

  it("opens at exactly 50% when interleaved", () => {
    const breaker = new CircuitBreaker();
    for (let i = 0; i < 19; i++) breaker.record(T0, i % 2 === 0); // 10 F, 9 S
    expect(breaker.current(T0)).toBe("closed");
    breaker.record(T0, false); // 10 F, 10 S
    expect(breaker.current(T0)).toBe("open");
  });

  it("does not open at 9 failures + 11 successes (45%)", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, [...failures(9), ...successes(11)]);
    expect(breaker.current(T0)).toBe("closed");
    const other = new CircuitBreaker();
    recordMany(other, T0, [...successes(11), ...failures(9)]);
    expect(other.current(T0)).toBe("closed");
    expect(other.view(T0)).toMatchObject({ calls: 20, failures: 9, failure_rate: 0.45 });
  });

  it("once past minimumCalls, opens as soon as the rate reaches the threshold", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, successes(30));
    // k failures after 30 successes: opens when k / (30 + k) >= 0.5, i.e. k = 30.
    for (let k = 1; k < 30; k++) {
      breaker.record(T0, true);
      expect(breaker.current(T0)).toBe("closed");
    }
    breaker.record(T0, true);
    expect(breaker.current(T0)).toBe("open");
    expect(breaker.view(T0)).toMatchObject({ calls: 60, failures: 30, failure_rate: 0.5 });
  });

  it("respects a custom threshold exactly (>=, not >)", () => {
    const breaker = new CircuitBreaker(config({ failureRateThreshold: 0.25, minimumCalls: 4, windowSize: 8 }));
    recordMany(breaker, T0, [false, false, true]);
    expect(breaker.current(T0)).toBe("closed"); // 3 calls < minimumCalls
    breaker.record(T0, false); // 1/4 = 0.25
    expect(breaker.current(T0)).toBe("open");

    const below = new CircuitBreaker(config({ failureRateThreshold: 0.25, minimumCalls: 5, windowSize: 8 }));
    recordMany(below, T0, [true, false, false, false, false]); // 0.2
    expect(below.current(T0)).toBe("closed");
  });

  it("slides over windowSize outcomes: 100 successes then failures opens at the 50th failure", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, successes(100));
    expect(breaker.view(T0)).toMatchObject({ calls: 100, failures: 0 });
    for (let k = 1; k <= 49; k++) {
      breaker.record(T0 + k, true);
      expect(breaker.current(T0 + k)).toBe("closed");
      expect(breaker.view(T0 + k)).toMatchObject({ calls: 100, failures: k });
    }
    breaker.record(T0 + 50, true);
    expect(breaker.current(T0 + 50)).toBe("open");
    expect(breaker.view(T0 + 50)).toMatchObject({ state: "open", calls: 100, failures: 50, failure_rate: 0.5 });
  });

  it("old outcomes fall out of the window (custom windowSize 10)", () => {
    const breaker = new CircuitBreaker(config({ windowSize: 10, minimumCalls: 10 }));
    recordMany(breaker, T0, [...failures(4), ...successes(6)]); // 4/10
    expect(breaker.current(T0)).toBe("closed");
    // Each new failure pushes out one of the old failures: the rate stays 4/10.
    for (let k = 1; k <= 4; k++) {
      breaker.record(T0, true);
      expect(breaker.current(T0)).toBe("closed");
      expect(breaker.view(T0)).toMatchObject({ calls: 10, failures: 4 });
    }
    // Now the window is 6 successes + 4 failures; this failure pushes out a success → 5/10.
    breaker.record(T0, true);
    expect(breaker.current(T0)).toBe("open");
    expect(breaker.view(T0)).toMatchObject({ calls: 10, failures: 5, failure_rate: 0.5 });
  });

  it("failures that fell out of the window no longer count", () => {
    const breaker = new CircuitBreaker(config({ windowSize: 20, minimumCalls: 20 }));
    recordMany(breaker, T0, failures(9));
    recordMany(breaker, T0, successes(11)); // 9/20
    recordMany(breaker, T0, successes(20)); // all failures pushed out
    expect(breaker.view(T0)).toMatchObject({ calls: 20, failures: 0, failure_rate: 0 });
    recordMany(breaker, T0, failures(9)); // 9/20 again
    expect(breaker.current(T0)).toBe("closed");
    breaker.record(T0, true); // 10/20
    expect(breaker.current(T0)).toBe("open");
  });

  it("a window smaller than minimumCalls never opens", () => {
    const breaker = new CircuitBreaker(config({ windowSize: 5, minimumCalls: 10 }));
    recordMany(breaker, T0, failures(50));
    expect(breaker.current(T0)).toBe("closed");
    expect(breaker.view(T0)).toMatchObject({ calls: 5, failures: 5, failure_rate: 1 });
  });
});

describe("CircuitBreaker: open", () => {
  it("denies with retryAfterMs = openedAt + openMs - now", () => {
    const breaker = openedAt(T0);
    expect(breaker.permit(T0)).toEqual({ permitted: false, retryAfterMs: 30_000 });
    expect(breaker.permit(T0 + 1)).toEqual({ permitted: false, retryAfterMs: 29_999 });
    expect(breaker.permit(T0 + 12_345)).toEqual({ permitted: false, retryAfterMs: 17_655 });
    expect(breaker.permit(T0 + 29_999)).toEqual({ permitted: false, retryAfterMs: 1 });
    expect(breaker.retryAfterMs(T0 + 10_000)).toBe(20_000);
    expect(breaker.current(T0 + 29_999)).toBe("open");
  });

  it("uses a custom openMs", () => {
    const cfg = config({ openMs: 5_000, minimumCalls: 2, windowSize: 4 });
    const breaker = openedAt(T0, cfg);
    expect(breaker.permit(T0 + 1_000)).toEqual({ permitted: false, retryAfterMs: 4_000 });
    expect(breaker.current(T0 + 4_999)).toBe("open");
    expect(breaker.current(T0 + 5_000)).toBe("half_open");
  });

  it("becomes half-open exactly at openedAt + openMs", () => {
    const breaker = openedAt(T0);
    expect(breaker.current(T0 + 30_000)).toBe("half_open");
    const permit = breaker.permit(T0 + 30_000);
    expect(permit.permitted).toBe(true);
    expect(probeId(permit)).toEqual(expect.any(String));
  });

  it("becomes half-open via permit alone, long after openMs", () => {
    const breaker = openedAt(T0);
    const permit = breaker.permit(T0 + 10 * 60_000);
    expect(permit.permitted).toBe(true);
    expect(breaker.current(T0 + 10 * 60_000)).toBe("half_open");
  });

  it("ignores outcomes recorded while open (calls admitted before it opened)", () => {
    const breaker = openedAt(T0);
    const before = breaker.snapshot();
    recordMany(breaker, T0 + 1_000, successes(200));
    recordMany(breaker, T0 + 1_000, failures(5));
    expect(breaker.snapshot()).toEqual(before);
    expect(breaker.current(T0 + 1_000)).toBe("open");
    expect(breaker.permit(T0 + 1_000)).toEqual({ permitted: false, retryAfterMs: 29_000 });
  });

  it("ignores an unknown probe id reported while open", () => {
    const breaker = openedAt(T0);
    const before = breaker.snapshot();
    breaker.record(T0 + 1, false, "not-a-probe");
    breaker.record(T0 + 1, true, "not-a-probe");
    expect(breaker.snapshot()).toEqual(before);
  });
});

describe("CircuitBreaker: half-open", () => {
  const H = T0 + 30_000;

  it("hands out exactly halfOpenProbes distinct probes, then denies", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 5);
    expect(new Set(ids).size).toBe(5);
    expect(breaker.permit(H)).toEqual({ permitted: false, retryAfterMs: 1_000 });
    expect(breaker.permit(H + 10_000)).toEqual({ permitted: false, retryAfterMs: 1_000 });
    expect(breaker.current(H + 10_000)).toBe("half_open");
  });

  it("takes back a probe whose request never called the dependency, counting nothing", () => {
    const breaker = openedAt(T0);
    const [unused, ...rest] = probes(breaker, H, 5);
    expect(breaker.permit(H).permitted).toBe(false);
    breaker.record(H + 1, null, unused as string);
    expect(breaker.current(H + 1)).toBe("half_open");
    const again = probeId(breaker.permit(H + 1));
    // The four kept and the new one decide, as five probes always do.
    for (const id of [...rest, again]) breaker.record(H + 2, false, id);
    expect(breaker.current(H + 2)).toBe("closed");
  });

  it("counts nothing for a call that never happened while closed", () => {
    const breaker = new CircuitBreaker();
    for (let i = 0; i < 30; i++) breaker.record(T0, null);
    expect(breaker.view(T0)).toMatchObject({ state: "closed", calls: 0, failures: 0 });
  });

  it("reported probes still use up the budget: no new probes after partial results", () => {
    const breaker = openedAt(T0);
    const [a, b] = probes(breaker, H, 5);
    breaker.record(H + 1, false, a as string);
    breaker.record(H + 1, false, b as string);
    expect(breaker.current(H + 1)).toBe("half_open");
    expect(breaker.permit(H + 1)).toEqual({ permitted: false, retryAfterMs: 1_000 });
  });

  it("hands out probes over time up to the budget", () => {
    const breaker = openedAt(T0);
    const first = probeId(breaker.permit(H));
    breaker.record(H + 10, false, first);
    // 1 used; 4 more may be handed out.
    probes(breaker, H + 20, 4);
    expect(breaker.permit(H + 30).permitted).toBe(false);
  });

  it("closes when every probe succeeds, with a fresh window", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 5);
    for (const [i, id] of ids.entries()) {
      // Two successes cannot decide yet (three failures would still reopen it).
      if (i < 3) expect(breaker.current(H + i)).toBe("half_open");
      breaker.record(H + i, false, id);
    }
    expect(breaker.current(H + 5)).toBe("closed");
    expect(breaker.permit(H + 5)).toEqual({ permitted: true, probe: null });
    expect(breaker.view(H + 5)).toEqual({
      state: "closed",
      calls: 0,
      failures: 0,
      failure_rate: 0,
      opened_at: null,
      retry_after_seconds: null,
    });
    // The window was reset: it takes minimumCalls again to open.
    recordMany(breaker, H + 6, failures(19));
    expect(breaker.current(H + 6)).toBe("closed");
    breaker.record(H + 7, true);
    expect(breaker.current(H + 7)).toBe("open");
    expect(breaker.permit(H + 7)).toEqual({ permitted: false, retryAfterMs: 30_000 });
  });

  it("closes with fewer failures than ceil(probes * threshold): 2 failures + 3 successes", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 5);
    const results = [true, false, true, false, false];
    ids.forEach((id, i) => {
      breaker.record(H + i, results[i] as boolean, id);
    });
    expect(breaker.current(H + 10)).toBe("closed");
  });

  it("stays half-open while the outcome is still open: 2 failures + 2 successes, one probe out", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 5);
    breaker.record(H + 1, true, ids[0] as string);
    breaker.record(H + 1, false, ids[1] as string);
    breaker.record(H + 1, true, ids[2] as string);
    breaker.record(H + 1, false, ids[3] as string);
    expect(breaker.current(H + 1)).toBe("half_open");
    breaker.record(H + 2, false, ids[4] as string);
    expect(breaker.current(H + 2)).toBe("closed");
  });

  it("reopens at the 3rd probe failure (ceil(5 * 0.5)) with a fresh openedAt", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 5);
    breaker.record(H + 100, true, ids[0] as string);
    breaker.record(H + 200, false, ids[1] as string);
    breaker.record(H + 300, true, ids[2] as string);
    expect(breaker.current(H + 300)).toBe("half_open");
    breaker.record(H + 400, true, ids[3] as string);
    // Decided without waiting for the last probe.
    expect(breaker.current(H + 400)).toBe("open");
    expect(breaker.view(H + 400).opened_at).toBe(new Date(H + 400).toISOString());
    expect(breaker.permit(H + 400)).toEqual({ permitted: false, retryAfterMs: 30_000 });
    expect(breaker.permit(H + 30_399)).toEqual({ permitted: false, retryAfterMs: 1 });
    // The last probe's late report is ignored.
    breaker.record(H + 500, false, ids[4] as string);
    expect(breaker.current(H + 500)).toBe("open");
    expect(breaker.current(H + 30_399)).toBe("open");
    expect(breaker.current(H + 30_400)).toBe("half_open");
    // The new half-open period has a fresh budget, and old probe ids mean nothing in it.
    breaker.record(H + 30_400, false, ids[4] as string);
    expect(breaker.current(H + 30_400)).toBe("half_open");
    expect(probes(breaker, H + 30_400, 5)).toHaveLength(5);
    expect(breaker.permit(H + 30_400).permitted).toBe(false);
  });

  it("custom probes: 4 probes at 0.5 reopen at 2 failures", () => {
    const cfg = config({ halfOpenProbes: 4, minimumCalls: 2, windowSize: 2 });
    const breaker = openedAt(T0, cfg);
    const ids = probes(breaker, H, 4);
    expect(breaker.permit(H).permitted).toBe(false);
    breaker.record(H, true, ids[0] as string);
    expect(breaker.current(H)).toBe("half_open");
    breaker.record(H, true, ids[1] as string);
    expect(breaker.current(H)).toBe("open");
  });

  it("custom probes: 3 probes at 0.5 reopen at ceil(1.5) = 2 failures, close at 1 failure", () => {
    const cfg = config({ halfOpenProbes: 3, minimumCalls: 2, windowSize: 2 });
    const reopening = openedAt(T0, cfg);
    const a = probes(reopening, H, 3);
    reopening.record(H, true, a[0] as string);
    expect(reopening.current(H)).toBe("half_open");
    reopening.record(H, true, a[1] as string);
    expect(reopening.current(H)).toBe("open");

    const closing = openedAt(T0, cfg);
    const b = probes(closing, H, 3);
    closing.record(H, true, b[0] as string);
    closing.record(H, false, b[1] as string);
    expect(closing.current(H)).toBe("half_open");
    closing.record(H, false, b[2] as string);
    expect(closing.current(H)).toBe("closed");
  });

  it("custom probes: a single probe decides alone", () => {
    const cfg = config({ halfOpenProbes: 1, minimumCalls: 1, windowSize: 1 });
    const failing = openedAt(T0, cfg);
    failing.record(H, true, probeId(failing.permit(H)));
    expect(failing.current(H)).toBe("open");

    const passing = openedAt(T0, cfg);
    const id = probeId(passing.permit(H));
    expect(passing.permit(H).permitted).toBe(false);
    passing.record(H, false, id);
    expect(passing.current(H)).toBe("closed");
  });

  it("custom threshold 0.2 with 10 probes reopens at 2 failures", () => {
    const cfg = config({ halfOpenProbes: 10, failureRateThreshold: 0.2, minimumCalls: 5, windowSize: 5 });
    const breaker = openedAt(T0, cfg);
    const ids = probes(breaker, H, 10);
    breaker.record(H, true, ids[0] as string);
    expect(breaker.current(H)).toBe("half_open");
    breaker.record(H, true, ids[1] as string);
    expect(breaker.current(H)).toBe("open");
  });

  it("a probe not reported within probeTimeoutMs counts as a failure", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 5);
    // Two fail, two succeed; the fifth is never reported.
    breaker.record(H + 10, true, ids[0] as string);
    breaker.record(H + 10, false, ids[1] as string);
    breaker.record(H + 10, true, ids[2] as string);
    breaker.record(H + 10, false, ids[3] as string);
    expect(breaker.current(H + 59_999)).toBe("half_open");
    // At exactly probeTimeoutMs the lost probe counts as the third failure → open again.
    expect(breaker.current(H + 60_000)).toBe("open");
    expect(breaker.view(H + 60_000).opened_at).toBe(new Date(H + 60_000).toISOString());
    // Its late success is ignored.
    breaker.record(H + 60_001, false, ids[4] as string);
    expect(breaker.current(H + 60_001)).toBe("open");
    expect(breaker.permit(H + 60_001)).toEqual({ permitted: false, retryAfterMs: 29_999 });
  });

  it("lost probes reopen the circuit at the time the timeout is noticed", () => {
    const breaker = openedAt(T0);
    probes(breaker, H, 5);
    expect(breaker.current(H + 59_999)).toBe("half_open");
    expect(breaker.permit(H + 59_999)).toEqual({ permitted: false, retryAfterMs: 1_000 });
    const noticed = H + 60_000;
    expect(breaker.permit(noticed)).toEqual({ permitted: false, retryAfterMs: 30_000 });
    expect(breaker.current(noticed)).toBe("open");
    expect(breaker.view(noticed).opened_at).toBe(new Date(noticed).toISOString());
  });

  it("probe timeouts combine with reported failures", () => {
    const breaker = openedAt(T0);
    const early = probeId(breaker.permit(H));
    const late = probes(breaker, H + 20_000, 4);
    breaker.record(H + 1, true, late[0] as string); // 1 reported failure
    breaker.record(H + 1, true, late[1] as string); // 2
    expect(breaker.current(H + 59_999)).toBe("half_open");
    // `early` times out at H + 60000 → 3rd failure → open.
    expect(breaker.current(H + 60_000)).toBe("open");
    breaker.record(H + 60_001, false, early);
    expect(breaker.current(H + 60_001)).toBe("open");
  });

  it("a probe reported just before its timeout counts as reported", () => {
    const cfg = config({ probeTimeoutMs: 1_000 });
    const breaker = openedAt(T0, cfg);
    const ids = probes(breaker, H, 5);
    for (const id of ids) breaker.record(H + 999, false, id);
    expect(breaker.current(H + 10_000)).toBe("closed");
  });

  it("with a short custom probe timeout, timed-out probes reopen", () => {
    const cfg = config({ probeTimeoutMs: 1_000 });
    const breaker = openedAt(T0, cfg);
    probes(breaker, H, 3);
    expect(breaker.current(H + 999)).toBe("half_open");
    expect(breaker.current(H + 1_000)).toBe("open");
  });

  it("outcomes without a probe id are ignored while half-open", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 5);
    recordMany(breaker, H + 1, failures(10));
    recordMany(breaker, H + 1, successes(10));
    expect(breaker.current(H + 1)).toBe("half_open");
    for (const id of ids) breaker.record(H + 2, false, id);
    expect(breaker.current(H + 2)).toBe("closed");
    expect(breaker.view(H + 2).calls).toBe(0);
  });

  it("unknown and duplicate probe ids are ignored", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 5);
    breaker.record(H + 1, true, "forged");
    breaker.record(H + 1, true, "forged");
    breaker.record(H + 1, true, "forged");
    expect(breaker.current(H + 1)).toBe("half_open");
    const first = ids[0] as string;
    breaker.record(H + 1, true, first);
    breaker.record(H + 1, true, first);
    breaker.record(H + 1, true, first);
    expect(breaker.current(H + 1)).toBe("half_open"); // still 1 failure
    expect(breaker.snapshot()).toMatchObject({ probeFailures: 1, probeSuccesses: 0 });
  });

  it("a probe reported after the circuit closed does not enter the window", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 5);
    for (const id of ids) breaker.record(H + 1, false, id);
    expect(breaker.current(H + 1)).toBe("closed");
    breaker.record(H + 2, true, ids[0] as string);
    expect(breaker.view(H + 2).calls).toBe(0);
  });
});

describe("CircuitBreaker: snapshot and restore", () => {
  const H = T0 + 30_000;
  const roundTrip = (b: CircuitBreaker, cfg?: CircuitConfig) =>
    CircuitBreaker.restore(JSON.parse(JSON.stringify(b.snapshot())) as CircuitSnapshot, cfg);

  it("snapshots a closed breaker's outcomes in order", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, [true, false, false, true]);
    expect(breaker.snapshot()).toEqual({
      state: "closed",
      outcomes: [true, false, false, true],
      openedAt: null,
      probes: [],
      probeFailures: 0,
      probeSuccesses: 0,
    });
  });

  it("the snapshot is a copy", () => {
    const breaker = new CircuitBreaker();
    breaker.record(T0, true);
    const snap = breaker.snapshot();
    snap.outcomes.push(true, true, true);
    expect(breaker.view(T0).calls).toBe(1);
  });

  it("a closed breaker keeps its window across a round trip", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, [...successes(10), ...failures(9)]);
    const restored = roundTrip(breaker);
    expect(restored.snapshot()).toEqual(breaker.snapshot());
    expect(restored.view(T0)).toEqual(breaker.view(T0));
    restored.record(T0, false); // 9/20
    expect(restored.current(T0)).toBe("closed");
    restored.record(T0, true); // 10/21
    expect(restored.current(T0)).toBe("closed");
    restored.record(T0, true); // 11/22
    expect(restored.current(T0)).toBe("open");
  });

  it("an open breaker keeps its openedAt across a round trip", () => {
    const breaker = openedAt(T0);
    const restored = roundTrip(breaker);
    expect(restored.snapshot()).toEqual(breaker.snapshot());
    expect(restored.permit(T0 + 10_000)).toEqual({ permitted: false, retryAfterMs: 20_000 });
    expect(restored.view(T0 + 10_000)).toEqual(breaker.view(T0 + 10_000));
    expect(restored.current(T0 + 29_999)).toBe("open");
    expect(restored.current(T0 + 30_000)).toBe("half_open");
  });

  it("a half-open breaker keeps its probes and their results across a round trip", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, H, 4);
    breaker.record(H + 5, true, ids[0] as string);
    breaker.record(H + 5, false, ids[1] as string);
    const snap = breaker.snapshot();
    expect(snap).toMatchObject({ state: "half_open", openedAt: T0, probeFailures: 1, probeSuccesses: 1 });
    expect(snap.probes).toEqual([
      { id: ids[2], issuedAt: H },
      { id: ids[3], issuedAt: H },
    ]);

    const restored = roundTrip(breaker);
    expect(restored.snapshot()).toEqual(snap);
    // One probe left in the budget (2 out + 2 reported = 4 of 5).
    probeId(restored.permit(H + 10));
    expect(restored.permit(H + 10).permitted).toBe(false);
    // Outstanding probes from before the round trip still report.
    restored.record(H + 11, true, ids[2] as string);
    expect(restored.current(H + 11)).toBe("half_open"); // 2 failures
    restored.record(H + 12, true, ids[3] as string);
    expect(restored.current(H + 12)).toBe("open"); // 3 failures
  });

  it("restored probes still time out from their original issue time", () => {
    const breaker = openedAt(T0);
    probes(breaker, H, 5);
    const restored = roundTrip(breaker);
    expect(restored.current(H + 59_999)).toBe("half_open");
    expect(restored.current(H + 60_000)).toBe("open");
  });

  it("original and restored copies behave identically under the same inputs", () => {
    const cfg = config({ windowSize: 10, minimumCalls: 6, openMs: 1_000, halfOpenProbes: 3, probeTimeoutMs: 500 });
    const a = new CircuitBreaker(cfg);
    recordMany(a, T0, [false, true, false, true, true]);
    const b = roundTrip(a, cfg);
    let t = T0;
    const script: boolean[] = [true, false, true, true, false, false, true, true, true, false];
    for (let step = 0; step < 40; step++) {
      t += 137;
      const pa = a.permit(t);
      const pb = b.permit(t);
      expect(pa.permitted).toBe(pb.permitted);
      if (!pa.permitted && !pb.permitted) expect(pa.retryAfterMs).toBe(pb.retryAfterMs);
      if (pa.permitted && pb.permitted) {
        expect(pa.probe === null).toBe(pb.probe === null);
        const failed = script[step % script.length] as boolean;
        if (step % 7 !== 3) {
          a.record(t + 10, failed, pa.probe);
          b.record(t + 10, failed, pb.probe);
        }
      }
      expect(a.current(t + 10)).toBe(b.current(t + 10));
      expect(a.view(t + 10)).toEqual(b.view(t + 10));
    }
  });

  it("restore keeps only the newest windowSize outcomes", () => {
    const snap: CircuitSnapshot = {
      state: "closed",
      outcomes: [...failures(10), ...successes(10)],
      openedAt: null,
      probes: [],
      probeFailures: 0,
      probeSuccesses: 0,
    };
    const cfg = config({ windowSize: 10, minimumCalls: 10 });
    const restored = CircuitBreaker.restore(snap, cfg);
    expect(restored.snapshot().outcomes).toEqual(successes(10));
    expect(restored.view(T0)).toMatchObject({ calls: 10, failures: 0 });
    recordMany(restored, T0, failures(4));
    expect(restored.current(T0)).toBe("closed");
    restored.record(T0, true);
    expect(restored.current(T0)).toBe("open");
  });

  it("restore does not alias the snapshot", () => {
    const breaker = new CircuitBreaker();
    breaker.record(T0, true);
    const snap = breaker.snapshot();
    const restored = CircuitBreaker.restore(snap);
    snap.outcomes.push(...failures(30));
    expect(restored.view(T0).calls).toBe(1);
  });
});

describe("CircuitBreaker: view", () => {
  it("closed with a mixed window", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, [...failures(3), ...successes(7)]);
    expect(breaker.view(T0)).toEqual({
      state: "closed",
      calls: 10,
      failures: 3,
      failure_rate: 0.3,
      opened_at: null,
      retry_after_seconds: null,
    });
  });

  it("an empty window has failure_rate 0", () => {
    expect(new CircuitBreaker().view(T0)).toEqual({
      state: "closed",
      calls: 0,
      failures: 0,
      failure_rate: 0,
      opened_at: null,
      retry_after_seconds: null,
    });
  });

  it("open: opened_at in ISO and retry_after_seconds rounded up", () => {
    const at = Date.UTC(2030, 5, 1, 8, 30, 15, 250);
    const breaker = openedAt(at);
    expect(breaker.view(at)).toEqual({
      state: "open",
      calls: 20,
      failures: 20,
      failure_rate: 1,
      opened_at: "2030-06-01T08:30:15.250Z",
      retry_after_seconds: 30,
    });
    expect(breaker.view(at + 1).retry_after_seconds).toBe(30); // 29.999 s
    expect(breaker.view(at + 1_000).retry_after_seconds).toBe(29);
    expect(breaker.view(at + 29_001).retry_after_seconds).toBe(1);
    expect(breaker.view(at + 29_999).retry_after_seconds).toBe(1);
  });

  it("half-open: state, the opening time, no wait while probes are free and 1 s once all are out", () => {
    const breaker = openedAt(T0);
    const view = breaker.view(T0 + 30_000);
    expect(view.state).toBe("half_open");
    expect(view.opened_at).toBe(new Date(T0).toISOString());
    expect(view.retry_after_seconds).toBe(0);
    for (let i = 0; i < DEFAULT_CIRCUIT.halfOpenProbes; i++) breaker.permit(T0 + 30_000);
    expect(breaker.view(T0 + 30_000).retry_after_seconds).toBe(1);
  });

  it("half-open: closes as soon as too few probes remain to reopen it", () => {
    const breaker = openedAt(T0);
    const probes = Array.from({ length: DEFAULT_CIRCUIT.halfOpenProbes }, () => breaker.permit(T0 + 30_000));
    const ids = probes.map((p) => (p.permitted ? p.probe : null));
    // 3 of 5 succeed: even if the last 2 fail, 2 < ceil(5 × 50 %) = 3 failures.
    for (const id of ids.slice(0, 2)) breaker.record(T0 + 30_001, false, id);
    expect(breaker.current(T0 + 30_001)).toBe("half_open");
    breaker.record(T0 + 30_001, false, ids[2] ?? null);
    expect(breaker.current(T0 + 30_001)).toBe("closed");
  });

  it("view applies time-driven transitions", () => {
    const breaker = openedAt(T0);
    expect(breaker.view(T0 + 29_999).state).toBe("open");
    expect(breaker.view(T0 + 30_000).state).toBe("half_open");
  });
});

describe("CircuitBreaker: reset", () => {
  it("closes an open breaker and clears its window", () => {
    const breaker = openedAt(T0);
    breaker.reset();
    expect(breaker.current(T0 + 1)).toBe("closed");
    expect(breaker.permit(T0 + 1)).toEqual({ permitted: true, probe: null });
    expect(breaker.view(T0 + 1)).toEqual({
      state: "closed",
      calls: 0,
      failures: 0,
      failure_rate: 0,
      opened_at: null,
      retry_after_seconds: null,
    });
    expect(breaker.snapshot()).toEqual({
      state: "closed",
      outcomes: [],
      openedAt: null,
      probes: [],
      probeFailures: 0,
      probeSuccesses: 0,
    });
    // It takes minimumCalls again to reopen.
    recordMany(breaker, T0 + 2, failures(19));
    expect(breaker.current(T0 + 2)).toBe("closed");
  });

  it("closes a half-open breaker; its outstanding probes become meaningless", () => {
    const breaker = openedAt(T0);
    const ids = probes(breaker, T0 + 30_000, 5);
    breaker.reset();
    expect(breaker.current(T0 + 30_001)).toBe("closed");
    for (const id of ids) breaker.record(T0 + 30_002, true, id);
    expect(breaker.current(T0 + 30_002)).toBe("closed");
    expect(breaker.view(T0 + 30_002).calls).toBe(0);
    // Nor do they time out into anything.
    expect(breaker.current(T0 + 200_000)).toBe("closed");
  });

  it("clears a closed breaker's window", () => {
    const breaker = new CircuitBreaker();
    recordMany(breaker, T0, failures(19));
    breaker.reset();
    breaker.record(T0, true);
    expect(breaker.current(T0)).toBe("closed");
    expect(breaker.view(T0)).toMatchObject({ calls: 1, failures: 1 });
  });
});
