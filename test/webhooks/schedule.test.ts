import { describe, expect, it } from "vitest";
import { delayBefore, JITTER, RETRY_SCHEDULE_SECONDS, retryAfterSeconds } from "../../src/webhooks/schedule";

describe("the retry schedule", () => {
  it("is Svix's: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then nothing", () => {
    expect(RETRY_SCHEDULE_SECONDS).toEqual([0, 5, 300, 1800, 7200, 18000, 36000, 36000]);
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((step) => delayBefore(step, 0.5))).toEqual([...RETRY_SCHEDULE_SECONDS]);
    expect(delayBefore(8, 0.5)).toBeNull();
  });

  it("moves each delay by at most 20 % either way, over the whole range", () => {
    for (let step = 1; step < RETRY_SCHEDULE_SECONDS.length; step++) {
      const base = RETRY_SCHEDULE_SECONDS[step] as number;
      expect(delayBefore(step, 0)).toBeCloseTo(base * (1 - JITTER));
      expect(delayBefore(step, 0.999999)).toBeCloseTo(base * (1 + JITTER), 0);
      const seen = Array.from({ length: 1000 }, () => delayBefore(step, Math.random()) as number);
      expect(Math.min(...seen)).toBeGreaterThanOrEqual(base * 0.8);
      expect(Math.max(...seen)).toBeLessThanOrEqual(base * 1.2);
      // Spread, not one value: the jitter desynchronises retries.
      expect(new Set(seen).size).toBeGreaterThan(900);
    }
  });

  it("never retries before a Retry-After, nor before the schedule", () => {
    expect(delayBefore(1, 0.5, 120)).toBe(120);
    expect(delayBefore(2, 0.5, 10)).toBe(300);
    // A queue delay is at most 12 h.
    expect(delayBefore(1, 0.5, 86_400)).toBe(43_200);
  });

  it("reads Retry-After as seconds or as an HTTP date", () => {
    const now = Date.parse("2026-12-02T10:00:00Z");
    expect(retryAfterSeconds("120", now)).toBe(120);
    expect(retryAfterSeconds(" 7 ", now)).toBe(7);
    expect(retryAfterSeconds("Wed, 02 Dec 2026 10:01:30 GMT", now)).toBe(90);
    expect(retryAfterSeconds("Wed, 02 Dec 2026 09:00:00 GMT", now)).toBe(0);
    expect(retryAfterSeconds("soon", now)).toBeNull();
    expect(retryAfterSeconds(null, now)).toBeNull();
  });
});
