/** Errors worth another try: the database did not answer, as opposed to answering "no". */
const TRANSIENT =
  /network connection lost|connection (?:was )?(?:reset|closed|refused)|internal error|overloaded|timed? ?out|reset because|try again|temporarily unavailable/i;

export const isTransient = (error: unknown) => error instanceof Error && TRANSIENT.test(error.message);

export type RetryOptions = {
  attempts?: number;
  baseMs?: number;
  capMs?: number;
  sleep?: (ms: number) => Promise<void>;
};

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs a read again after a transient failure, with exponential backoff and full jitter
 * (a random delay up to base·2^n, capped) so that retrying callers do not arrive in step.
 * Only for reads: a write that failed in transit may have been applied, so it is never retried
 * blindly; writes rely on idempotency keys and version preconditions instead.
 */
export async function retryRead<T>(read: () => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 3, baseMs = 50, capMs = 400, sleep = wait } = options;
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (error) {
      if (attempt >= attempts || !isTransient(error)) throw error;
      await sleep(Math.random() * Math.min(capMs, baseMs * 2 ** (attempt - 1)));
    }
  }
}
