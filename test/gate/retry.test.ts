import { afterEach, describe, expect, it, vi } from "vitest";
import { isTransient, retryRead } from "../../src/gate/retry";

afterEach(() => {
  vi.restoreAllMocks();
});

/** A read that fails with the given errors in turn, then returns `value`. */
function flaky<T>(errors: unknown[], value: T) {
  let calls = 0;
  const read = async () => {
    const error = errors[calls++];
    if (calls <= errors.length) throw error;
    return value;
  };
  return { read, calls: () => calls };
}

function recorder() {
  const delays: number[] = [];
  const sleep = async (ms: number) => {
    delays.push(ms);
  };
  return { delays, sleep };
}

const lost = () => new Error("D1_ERROR: Network connection lost.");
const unique = () => new Error("D1_ERROR: UNIQUE constraint failed: entries.key: SQLITE_CONSTRAINT");

describe("isTransient", () => {
  it.each([
    "D1_ERROR: Network connection lost.",
    "Network connection lost.",
    "D1_ERROR: Connection reset by peer",
    "connection was reset",
    "Connection closed",
    "connection refused",
    "D1_ERROR: internal error; reference = abc123",
    "D1 DB is overloaded. Requests queued for too long.",
    "D1_ERROR: D1 DB storage operation exceeded timeout which caused object to be reset.",
    "Operation timed out",
    "The request time out",
    "Durable Object reset because its code was updated.",
    "Please try again later",
    "Service temporarily unavailable",
    "NETWORK CONNECTION LOST",
  ])("%s → transient", (message) => {
    expect(isTransient(new Error(message))).toBe(true);
  });

  it.each([
    "D1_ERROR: UNIQUE constraint failed: entries.key: SQLITE_CONSTRAINT",
    "D1_ERROR: no such table: entries: SQLITE_ERROR",
    'D1_ERROR: near "SELEC": syntax error',
    "FOREIGN KEY constraint failed",
    "Not found",
    "",
  ])("%s → not transient", (message) => {
    expect(isTransient(new Error(message))).toBe(false);
  });

  it("only Error instances can be transient", () => {
    expect(isTransient("Network connection lost.")).toBe(false);
    expect(isTransient({ message: "Network connection lost." })).toBe(false);
    expect(isTransient(null)).toBe(false);
    expect(isTransient(undefined)).toBe(false);
  });

  it("Error subclasses count", () => {
    expect(isTransient(new TypeError("Network connection lost."))).toBe(true);
    class D1Error extends Error {}
    expect(isTransient(new D1Error("internal error"))).toBe(true);
  });
});

describe("retryRead", () => {
  it("returns at once when the read succeeds, without sleeping", async () => {
    const { read, calls } = flaky([], 42);
    const { delays, sleep } = recorder();
    await expect(retryRead(read, { sleep })).resolves.toBe(42);
    expect(calls()).toBe(1);
    expect(delays).toEqual([]);
  });

  it("succeeds after transient failures", async () => {
    const { read, calls } = flaky([lost(), lost()], "row");
    const { delays, sleep } = recorder();
    await expect(retryRead(read, { sleep })).resolves.toBe("row");
    expect(calls()).toBe(3);
    expect(delays).toHaveLength(2);
  });

  it("gives up after the default 3 attempts and rethrows the last error", async () => {
    const errors = [
      new Error("Network connection lost. (1)"),
      new Error("Network connection lost. (2)"),
      new Error("Network connection lost. (3)"),
      new Error("Network connection lost. (4)"),
    ];
    const { read, calls } = flaky(errors, "never");
    const { delays, sleep } = recorder();
    const rejection = retryRead(read, { sleep });
    await expect(rejection).rejects.toBe(errors[2]);
    expect(calls()).toBe(3);
    expect(delays).toHaveLength(2);
  });

  it("honours a custom number of attempts", async () => {
    const errors = Array.from({ length: 10 }, (_, i) => new Error(`D1_ERROR: Network connection lost. #${i}`));
    const { read, calls } = flaky(errors, "x");
    const { delays, sleep } = recorder();
    await expect(retryRead(read, { attempts: 5, sleep })).rejects.toBe(errors[4]);
    expect(calls()).toBe(5);
    expect(delays).toHaveLength(4);
  });

  it("succeeds on the last allowed attempt", async () => {
    const { read, calls } = flaky([lost(), lost(), lost()], "ok");
    const { sleep } = recorder();
    await expect(retryRead(read, { attempts: 4, sleep })).resolves.toBe("ok");
    expect(calls()).toBe(4);
  });

  it("attempts: 1 means no retry", async () => {
    const error = lost();
    const { read, calls } = flaky([error], "x");
    const { delays, sleep } = recorder();
    await expect(retryRead(read, { attempts: 1, sleep })).rejects.toBe(error);
    expect(calls()).toBe(1);
    expect(delays).toEqual([]);
  });

  it("does not retry a non-transient error", async () => {
    const error = unique();
    const { read, calls } = flaky([error], "x");
    const { delays, sleep } = recorder();
    await expect(retryRead(read, { sleep })).rejects.toBe(error);
    expect(calls()).toBe(1);
    expect(delays).toEqual([]);
  });

  it("stops at a non-transient error that follows transient ones", async () => {
    const error = unique();
    const { read, calls } = flaky([lost(), error, lost()], "x");
    const { delays, sleep } = recorder();
    await expect(retryRead(read, { attempts: 10, sleep })).rejects.toBe(error);
    expect(calls()).toBe(2);
    expect(delays).toHaveLength(1);
  });

  it("does not retry a thrown non-Error value", async () => {
    const { read, calls } = flaky(["Network connection lost."], "x");
    const { sleep } = recorder();
    await expect(retryRead(read, { sleep })).rejects.toBe("Network connection lost.");
    expect(calls()).toBe(1);
  });

  it("with Math.random at its maximum, delays are min(capMs, baseMs * 2^(attempt - 1))", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.999_999_999);
    const { read } = flaky(
      Array.from({ length: 8 }, () => lost()),
      "x",
    );
    const { delays, sleep } = recorder();
    await expect(retryRead(read, { attempts: 8, baseMs: 25, capMs: 400, sleep })).rejects.toThrow();
    // After attempt n (1-based) the ceiling is min(400, 25 * 2^(n-1)): 25, 50, 100, 200, 400, 400, 400.
    const ceilings = [25, 50, 100, 200, 400, 400, 400];
    expect(delays).toHaveLength(ceilings.length);
    delays.forEach((ms, i) => {
      expect(ms).toBeLessThan(ceilings[i] as number);
      expect(ms).toBeCloseTo((ceilings[i] as number) * 0.999_999_999, 6);
    });
  });

  it("with Math.random at 0, every delay is 0 (full jitter starts at 0)", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { read } = flaky([lost(), lost(), lost()], "x");
    const { delays, sleep } = recorder();
    await expect(retryRead(read, { attempts: 4, sleep })).resolves.toBe("x");
    expect(delays).toEqual([0, 0, 0]);
  });

  it("each delay is random * ceiling, with a fresh random number each time", async () => {
    const randoms = [0.5, 0.25, 0.75, 0.1];
    let i = 0;
    vi.spyOn(Math, "random").mockImplementation(() => randoms[i++] as number);
    const { read } = flaky([lost(), lost(), lost(), lost()], "x");
    const { delays, sleep } = recorder();
    await expect(retryRead(read, { attempts: 5, baseMs: 10, capMs: 60, sleep })).resolves.toBe("x");
    // Ceilings: min(60, 10) = 10, min(60, 20) = 20, min(60, 40) = 40, min(60, 80) = 60.
    const expected = [5, 5, 30, 6];
    expect(delays).toHaveLength(expected.length);
    delays.forEach((ms, n) => {
      expect(ms).toBeCloseTo(expected[n] as number, 9);
    });
  });

  it("with real randomness, every delay lies in [0, min(capMs, baseMs * 2^attempt))", async () => {
    for (let run = 0; run < 50; run++) {
      const { read } = flaky(
        Array.from({ length: 6 }, () => lost()),
        "x",
      );
      const { delays, sleep } = recorder();
      await retryRead(read, { attempts: 7, baseMs: 30, capMs: 500, sleep });
      expect(delays).toHaveLength(6);
      delays.forEach((ms, n) => {
        expect(ms).toBeGreaterThanOrEqual(0);
        expect(ms).toBeLessThan(Math.min(500, 30 * 2 ** (n + 1)));
      });
    }
  });

  it("awaits the sleep before the next attempt", async () => {
    const events: string[] = [];
    let calls = 0;
    const read = async () => {
      events.push(`read ${++calls}`);
      if (calls < 3) throw lost();
      return "done";
    };
    const sleep = async (ms: number) => {
      events.push("sleep start");
      await new Promise((resolve) => setTimeout(resolve, 1));
      events.push(`sleep end ${ms >= 0}`);
    };
    await expect(retryRead(read, { sleep })).resolves.toBe("done");
    expect(events).toEqual([
      "read 1",
      "sleep start",
      "sleep end true",
      "read 2",
      "sleep start",
      "sleep end true",
      "read 3",
    ]);
  });

  it("works with the default sleep (real timers, tiny delays)", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    const { read, calls } = flaky([lost()], "ok");
    await expect(retryRead(read)).resolves.toBe("ok");
    expect(calls()).toBe(2);
  });
});
