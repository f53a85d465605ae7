/** What `Deadline.race` gives back when the time ran out before the work settled. */
export const TIMED_OUT = Symbol("timed out");

export type Deadline = {
  /** The work's value, or TIMED_OUT once the deadline has passed; the work's rejection passes through. */
  race<T>(work: Promise<T>): Promise<T | typeof TIMED_OUT>;
  /** Stops the timer; call it once the deadline no longer matters. */
  clear(): void;
};

/**
 * A deadline `ms` from now, shared by every `race` on it: time spent in one step counts against
 * the next (connecting, then the handler).
 *
 * @example
 * const deadline = startDeadline(1_000);
 * try {
 *   const store = await deadline.race(openStore(env, shard));
 *   if (store === TIMED_OUT) return unavailable();
 * } finally {
 *   deadline.clear();
 * }
 */
export function startDeadline(ms: number): Deadline {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const passed = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(() => resolve(TIMED_OUT), ms);
  });
  return {
    race: (work) => Promise.race([work, passed]),
    clear: () => clearTimeout(timer),
  };
}

/** The work's value, or a rejection "no answer within `ms` ms" if it takes longer. */
export async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  const deadline = startDeadline(ms);
  try {
    const result = await deadline.race(work);
    if (result === TIMED_OUT) throw new Error(`no answer within ${ms} ms`);
    return result;
  } finally {
    deadline.clear();
  }
}
