import type { Context } from "hono";
import { LRUCache } from "lru-cache";
import { errorText } from "../db/errors";
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

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail becomes the last two), or null. */
function ipv6Groups(ip: string): number[] | null {
  let text = ip;
  const dotted = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (dotted) {
    const bytes = dotted.slice(1).map(Number);
    if (bytes.some((byte) => byte > 255)) return null;
    const [a = 0, b = 0, c = 0, d = 0] = bytes;
    text = `${text.slice(0, dotted.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves[1] ? halves[1].split(":") : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0) || (halves.length === 2 && missing === 0)) return null;
  const groups = [...head, ...Array<string>(missing).fill("0"), ...tail];
  if (!groups.every((group) => /^[0-9a-f]{1,4}$/.test(group))) return null;
  return groups.map((group) => Number.parseInt(group, 16));
}

/**
 * The address a client's failures are counted under: an IPv4 address as it is (also when written
 * as IPv4-mapped IPv6, dotted or in hex), an IPv6 address by its /64, the one network a
 * subscriber is given and picks addresses from at will. Anything unparseable counts as written.
 */
export function clientNetwork(address: string): string {
  const ip = address.trim().toLowerCase();
  if (!ip.includes(":")) return ip;
  const groups = ipv6Groups(ip);
  if (!groups) return ip;
  const [g0, g1, g2, g3, g4, g5, g6 = 0, g7 = 0] = groups;
  if (g0 === 0 && g1 === 0 && g2 === 0 && g3 === 0 && g4 === 0 && g5 === 0xffff) {
    return [g6 >> 8, g6 & 255, g7 >> 8, g7 & 255].join(".");
  }
  return `${groups
    .slice(0, 4)
    .map((group) => group.toString(16))
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
    console.warn(JSON.stringify({ level: "warn", msg: "failed authentication not counted", error: errorText(error) }));
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
