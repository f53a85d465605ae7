import { SlidingWindowLog } from "../gate/sliding-window";

/** Failed authentications count over this window. */
export const FAILURE_WINDOW_MS = 60_000;

/** What a failure log answers: refuse with 429 for `retryAfterMs`, or let the 401 stand. */
export type FailureVerdict = { throttled: boolean; retryAfterMs: number };

/**
 * The failed authentications of one subject (a key prefix, a client address), exactly: at most
 * `limit` in any FAILURE_WINDOW_MS are let through as 401s; past that, failures answer 429 and
 * are not counted, so the throttle lifts when the oldest counted failure leaves the window
 * rather than being pushed back by every further attempt.
 */
export class FailureLog {
  private readonly window = new SlidingWindowLog(FAILURE_WINDOW_MS);

  fail(now: number, limit: number): FailureVerdict {
    const wait = this.window.waitMs(now, limit);
    if (wait > 0) return { throttled: true, retryAfterMs: wait };
    this.window.record(now);
    return { throttled: false, retryAfterMs: 0 };
  }
}
