import { describe, expect, it } from "vitest";
import { retryDelaySeconds } from "../../src/jobs/lease";
import { retryDelayOf } from "../../src/jobs/queue";
import { settings } from "../../src/settings";

describe("the retry delay of a failed move step", () => {
  it("doubles from the configured first delay and stops at a minute", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((attempts) => retryDelaySeconds(1, attempts))).toEqual([
      1, 2, 4, 8, 16, 32, 60, 60,
    ]);
    expect([1, 2, 3].map((attempts) => retryDelaySeconds(5, attempts))).toEqual([5, 10, 20]);
  });

  it("is 0 every time when configured so (tests), and 1 s first by default", () => {
    expect([1, 5, 20].map((attempts) => retryDelaySeconds(0, attempts))).toEqual([0, 0, 0]);
    expect(settings({}).moveRetryDelaySeconds).toBe(1);
    expect(settings({ MOVE_RETRY_DELAY_SECONDS: "0" }).moveRetryDelaySeconds).toBe(0);
    expect(settings({ MOVE_RETRY_DELAY_SECONDS: "" }).moveRetryDelaySeconds).toBe(1);
    expect(settings({ MOVE_RETRY_DELAY_SECONDS: "-3" }).moveRetryDelaySeconds).toBe(1);
  });
});

describe("the retry delay of a lifecycle message whose job throws", () => {
  it("doubles from JOB_RETRY_DELAY_SECONDS (5 s) per try and stops at 5 minutes", () => {
    const env = {} as Env;
    expect([1, 2, 3, 4, 5, 6, 7, 8, 10].map((attempts) => retryDelayOf(env, attempts))).toEqual([
      5, 10, 20, 40, 80, 160, 300, 300, 300,
    ]);
    expect(retryDelayOf({ JOB_RETRY_DELAY_SECONDS: "0" } as unknown as Env, 4)).toBe(0);
  });
});
