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

/**
 * The address a client's failures are counted under: an IPv4 address as it is (also when written
 * as IPv4-mapped IPv6), an IPv6 address by its /64, the one network a subscriber is given and
 * picks addresses from at will. Anything unparseable counts as written.
 */
export function clientNetwork(address: string): string {
  const ip = address.trim().toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(ip);
  if (mapped) return mapped[1] as string;
  if (!ip.includes(":")) return ip;
  const halves = ip.split("::");
  if (halves.length > 2) return ip;
  const groupsOf = (half: string | undefined) => (half ? half.split(":") : []);
  const head = groupsOf(halves[0]);
  const tail = groupsOf(halves[1]);
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return ip;
  const groups = [...head, ...Array<string>(missing).fill("0"), ...tail];
  if (!groups.slice(0, 4).every((group) => /^[0-9a-f]{1,4}$/.test(group))) return ip;
  return `${groups
    .slice(0, 4)
    .map((group) => group.replace(/^0+(?=.)/, ""))
    .join(":")}::/64`;
}

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
 * client's network (clientNetwork of CF-Connecting-IP, which Cloudflare always sets; without it
 * there is no address to count). Returns the error to answer with: `invalid` itself, or 429 once either
 * subject is past its limit. Only failures count: the right secret is never refused, so knowing
 * a key's public prefix is not enough to lock its owner out. Should the count be unreachable,
 * the 401 stands.
 */
export async function failedAuthentication(
  c: Context<AppEnv>,
  prefix: string | null,
  invalid: AppError,
): Promise<AppError> {
  const address = c.req.header("CF-Connecting-IP")?.trim();
  const ip = address ? clientNetwork(address) : undefined;
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
