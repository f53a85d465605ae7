import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { clientNetwork, FAILURE_LIMITS } from "../../src/auth/throttle";
import { travel } from "../gate/fixture";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
afterEach(() => {
  vi.useRealTimers();
});

let addresses = 0;
/** A client address no other test uses (storage, and so every count, is per test file). */
const freshIp = () => `198.51.100.${++addresses}`;

/** The key with its secret's last characters changed: the right prefix, a wrong secret. */
const wrongSecret = (key: string, n = 0) => `${key.slice(0, -6)}${String(n).padStart(6, "A")}`;

const ping = (key: string | undefined, ip?: string) =>
  call("/v1/ping", { key, headers: ip ? { "CF-Connecting-IP": ip } : {} });

/** A key-shaped value with a prefix no key has. */
const unknownKey = (n: number) => `etk_${String(n).padStart(16, "x")}_${"A".repeat(43)}`;

describe("failed authentications", () => {
  it("are throttled per key prefix: after 10 wrong secrets in a minute, 429 with Retry-After", async () => {
    const tenant = await createTenant(admin);
    const { secret } = await tenantKey(admin, tenant.id);
    const statuses: number[] = [];
    for (let i = 0; i < 80; i++) {
      const res = await ping(wrongSecret(secret, i));
      statuses.push(res.status);
      if (res.status === 429) {
        expectProblem(res, 429, "authentication-throttled");
        const retryAfter = Number(res.headers.get("Retry-After"));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(60);
        expect(res.json.retry_after).toBe(retryAfter);
      } else expectProblem(res, 401, "invalid-api-key");
      // The right secret is never refused: knowing a key's prefix cannot lock its owner out.
      if (i % 20 === 0) expect((await ping(secret)).status).toBe(200);
    }
    expect(statuses.filter((s) => s === 401)).toHaveLength(FAILURE_LIMITS.key);
    expect(statuses.slice(FAILURE_LIMITS.key).every((s) => s === 429)).toBe(true);

    // A minute after the first counted failure, the key's failures are 401s again.
    travel(60_001);
    expectProblem(await ping(wrongSecret(secret)), 401, "invalid-api-key");
  });

  it("count exactly under concurrency, across isolates", async () => {
    const tenant = await createTenant(admin);
    const { secret } = await tenantKey(admin, tenant.id);
    const statuses = await Promise.all(
      Array.from({ length: 40 }, async (_, i) => (await ping(wrongSecret(secret, i))).status),
    );
    expect(statuses.filter((s) => s === 401)).toHaveLength(FAILURE_LIMITS.key);
    expect(statuses.filter((s) => s === 429)).toHaveLength(40 - FAILURE_LIMITS.key);
  });

  it("are throttled per client address across many keys, and only for that address", async () => {
    const ip = freshIp();
    const statuses: number[] = [];
    for (let i = 0; i < FAILURE_LIMITS.ip + 5; i++) statuses.push((await ping(unknownKey(i), ip)).status);
    expect(statuses.slice(0, FAILURE_LIMITS.ip).every((s) => s === 401)).toBe(true);
    expect(statuses.slice(FAILURE_LIMITS.ip)).toEqual([429, 429, 429, 429, 429]);
    // Keys that are not even well-formed count for the address too.
    expectProblem(await ping("not-a-key", ip), 429, "authentication-throttled");
    expectProblem(await ping(unknownKey(999), freshIp()), 401, "invalid-api-key");
    // A valid key from the throttled address still works.
    const tenant = await createTenant(admin);
    const { secret } = await tenantKey(admin, tenant.id);
    expect((await ping(secret, ip)).status).toBe(200);
  });

  it("count an IPv6 client by its /64, whichever of its addresses it sends from", async () => {
    const statuses: number[] = [];
    for (let i = 0; i < FAILURE_LIMITS.ip + 1; i++) {
      statuses.push((await ping(unknownKey(i), `2001:db8:7:1:${i.toString(16)}::1`)).status);
    }
    expect(statuses.at(-1)).toBe(429);
    expect((await ping(unknownKey(0), "2001:db8:7:2::1")).status).toBe(401);
  });

  it("name the network a client address belongs to", () => {
    expect(clientNetwork("203.0.113.9")).toBe("203.0.113.9");
    expect(clientNetwork("::ffff:203.0.113.9")).toBe("203.0.113.9");
    expect(clientNetwork("::ffff:cb00:7109")).toBe("203.0.113.9");
    expect(clientNetwork("0:0:0:0:0:FFFF:CB00:7109")).toBe("203.0.113.9");
    expect(clientNetwork("2001:DB8:0001:0002:aaaa:bbbb:cccc:dddd")).toBe("2001:db8:1:2::/64");
    expect(clientNetwork("2001:db8:1:2::7")).toBe("2001:db8:1:2::/64");
    expect(clientNetwork("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(clientNetwork("::1")).toBe("0:0:0:0::/64");
    expect(clientNetwork("not an address")).toBe("not an address");
    expect(clientNetwork("1::2::3")).toBe("1::2::3");
    expect(clientNetwork("1:2:3:4:5:6:7:8:9")).toBe("1:2:3:4:5:6:7:8:9");
    expect(clientNetwork("::ffff:300.1.1.1")).toBe("::ffff:300.1.1.1");
  });

  it("count a platform-admin key's wrong secrets as well", async () => {
    const other = await adminKey();
    const statuses: number[] = [];
    for (let i = 0; i < FAILURE_LIMITS.key + 2; i++) statuses.push((await ping(wrongSecret(other, i))).status);
    expect(statuses.slice(-2)).toEqual([429, 429]);
    expect((await ping(other)).status).toBe(200);
  });

  it("do not include requests that sent no key at all", async () => {
    const ip = freshIp();
    for (let i = 0; i < FAILURE_LIMITS.ip + 5; i++) expectProblem(await ping(undefined, ip), 401, "unauthenticated");
    expectProblem(await ping(unknownKey(1), ip), 401, "invalid-api-key");
  });
});
