import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { startDeadline, TIMED_OUT, within } from "../../src/shards/deadline";

const settlesAfter = <T>(ms: number, value: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe("a deadline", () => {
  it("gives the work's value when the work settles first", async () => {
    const deadline = startDeadline(100);
    const racing = deadline.race(settlesAfter(50, "done"));
    await vi.advanceTimersByTimeAsync(50);
    expect(await racing).toBe("done");
    deadline.clear();
  });

  it("gives TIMED_OUT when the time runs out first", async () => {
    const deadline = startDeadline(100);
    const racing = deadline.race(settlesAfter(150, "done"));
    await vi.advanceTimersByTimeAsync(100);
    expect(await racing).toBe(TIMED_OUT);
    deadline.clear();
  });

  it("counts the time spent in one race against the next", async () => {
    const deadline = startDeadline(100);
    const first = deadline.race(settlesAfter(60, "connected"));
    await vi.advanceTimersByTimeAsync(60);
    expect(await first).toBe("connected");
    // 60 ms already went on connecting: a 60 ms handler no longer fits.
    const second = deadline.race(settlesAfter(60, "handled"));
    await vi.advanceTimersByTimeAsync(40);
    expect(await second).toBe(TIMED_OUT);
    deadline.clear();
  });

  it("passes the work's rejection through", async () => {
    const deadline = startDeadline(100);
    await expect(deadline.race(Promise.reject(new Error("refused")))).rejects.toThrow("refused");
    deadline.clear();
  });

  it("leaves no timer behind once cleared", () => {
    const deadline = startDeadline(100);
    expect(vi.getTimerCount()).toBe(1);
    deadline.clear();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe("within", () => {
  it("gives the work's value and clears its timer", async () => {
    const result = within(settlesAfter(10, 42), 100);
    await vi.advanceTimersByTimeAsync(10);
    expect(await result).toBe(42);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("rejects with the time it waited once the work takes longer", async () => {
    const result = within(settlesAfter(200, 42), 100);
    const settled = expect(result).rejects.toThrow("no answer within 100 ms");
    await vi.advanceTimersByTimeAsync(100);
    await settled;
    expect(vi.getTimerCount()).toBe(1); // the work's own timer, not the deadline's
  });

  it("clears its timer when the work fails", async () => {
    await expect(within(Promise.reject(new Error("refused")), 100)).rejects.toThrow("refused");
    expect(vi.getTimerCount()).toBe(0);
  });
});
