import type { Context } from "hono";
import { LRUCache } from "lru-cache";
import type { AppEnv } from "../env";
import { AppError } from "../http/problems";
import type { FailureVerdict } from "./failure-log";

/**
 * Failed authentications allowed per minute before further ones answer 429: per key prefix (a
 * guess at one key's secret) and per client address (guesses spread over many keys).
 */
export const FAILURE_LIMITS = { key: 10, ip: 60 } as const;

type Subject = { kind: keyof typeof FAILURE_LIMITS; id: string };

/** Subjects this isolate knows to be throttled, and until when: their failures need no call. */
const throttledUntil = new LRUCache<string, number>({ max: 10_000 });

const nameOf = (subject: Subject) => `${subject.kind}:${subject.id}`;

async function verdict(env: Env, subject: Subject, now: number): Promise<FailureVerdict> {
  const name = nameOf(subject);
  const until = throttledUntil.get(name);
  if (until !== undefined && until > now) return { throttled: true, retryAfterMs: until - now };
  const stub = env.AUTH_THROTTLE.get(env.AUTH_THROTTLE.idFromName(name));
  const answer = (await stub.fail(FAILURE_LIMITS[subject.kind])) as FailureVerdict;
  if (answer.throttled) throttledUntil.set(name, now + answer.retryAfterMs);
  return answer;
}

/**
 * Counts a failed authentication against the key's prefix (when the key was well-formed) and the
 * client's address (CF-Connecting-IP, which Cloudflare always sets; without it there is no
 * address to count). Returns the error to answer with: `invalid` itself, or 429 once either
 * subject is past its limit. Only failures count: the right secret is never refused, so knowing
 * a key's public prefix is not enough to lock its owner out. Should the count be unreachable,
 * the 401 stands.
 */
export async function failedAuthentication(
  c: Context<AppEnv>,
  prefix: string | null,
  invalid: AppError,
): Promise<AppError> {
  const ip = c.req.header("CF-Connecting-IP")?.trim();
  const subjects: Subject[] = [
    ...(prefix ? [{ kind: "key" as const, id: prefix }] : []),
    ...(ip ? [{ kind: "ip" as const, id: ip }] : []),
  ];
  const now = Date.now();
  let verdicts: FailureVerdict[];
  try {
    verdicts = await Promise.all(subjects.map((subject) => verdict(c.env, subject, now)));
  } catch (error) {
    console.warn(JSON.stringify({ level: "warn", msg: "failed authentication not counted", error: String(error) }));
    return invalid;
  }
  const throttled = verdicts.filter((v) => v.throttled);
  if (throttled.length === 0) return invalid;
  const seconds = Math.max(1, Math.ceil(Math.max(...throttled.map((v) => v.retryAfterMs)) / 1000));
  return new AppError(
    "authentication-throttled",
    `Too many failed authentications from this client or for this key; retry after ${seconds} s`,
    { headers: { "Retry-After": String(seconds) }, extensions: { retry_after: seconds } },
  );
}
