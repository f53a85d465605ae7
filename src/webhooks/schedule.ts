// When a message's attempts happen: Svix's schedule, each delay after the attempt before it.

/** Seconds before each attempt of a run: immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h. */
export const RETRY_SCHEDULE_SECONDS = [0, 5, 300, 1800, 7200, 18000, 36000, 36000] as const;

/** Every delay is moved by up to this share either way, so failed messages do not retry in lockstep. */
export const JITTER = 0.2;

/** A queue message may be delayed by at most 12 hours. */
export const MAX_DELAY_SECONDS = 12 * 3600;

/** An endpoint that failed every attempt for this long is disabled. */
export const FAILING_DISABLES_AFTER_MS = 5 * 24 * 3600 * 1000;

/** An attempt with no answer within this long has failed. */
export const ATTEMPT_TIMEOUT_MS = 15_000;

/**
 * The delay in seconds before attempt `step` (0-based) of a run, or null when the run is over.
 * `random` is in [0, 1): 0.5 is the schedule itself, 0 and 1 its ±20 % bounds. A `Retry-After`
 * the endpoint sent (429, 503) is a floor: never sooner than it asked, nor than the schedule.
 */
export function delayBefore(step: number, random: number, retryAfterSeconds: number | null = null): number | null {
  const base = RETRY_SCHEDULE_SECONDS[step];
  if (base === undefined) return null;
  const jittered = base * (1 - JITTER + 2 * JITTER * random);
  return Math.min(MAX_DELAY_SECONDS, Math.max(jittered, retryAfterSeconds ?? 0));
}

/** The seconds a `Retry-After` header asks for (delta seconds or an HTTP date), or null. */
export function retryAfterSeconds(header: string | null, now: number): number | null {
  if (header === null) return null;
  const text = header.trim();
  if (/^[0-9]+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, (at - now) / 1000);
}
