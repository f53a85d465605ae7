import { describe, expect, it } from "vitest";
import { rateLimitHeaders } from "../../src/gate/headers";
import type { PolicyState } from "../../src/gate/protocol";

const tenant: PolicyState = { name: "tenant", quota: 600, windowSeconds: 60, remaining: 599, resetSeconds: 42 };
const key: PolicyState = { name: "key", quota: 100, windowSeconds: 60, remaining: 3, resetSeconds: 7 };
const monthly: PolicyState = {
  name: "monthly",
  quota: 1_000_000,
  windowSeconds: 2_592_000,
  remaining: 0,
  resetSeconds: 86_400,
};

describe("rateLimitHeaders", () => {
  it("empty input gives no headers", () => {
    expect(rateLimitHeaders([])).toEqual({});
  });

  it("one policy: exact field syntax and the X-RateLimit trio", () => {
    expect(rateLimitHeaders([tenant])).toEqual({
      "RateLimit-Policy": '"tenant";q=600;w=60',
      RateLimit: '"tenant";r=599;t=42',
      "X-RateLimit-Limit": "600",
      "X-RateLimit-Remaining": "599",
      "X-RateLimit-Reset": "42",
    });
  });

  it("multiple policies are joined with ', ' in input order", () => {
    const headers = rateLimitHeaders([tenant, key, monthly]);
    expect(headers["RateLimit-Policy"]).toBe('"tenant";q=600;w=60, "key";q=100;w=60, "monthly";q=1000000;w=2592000');
    expect(headers.RateLimit).toBe('"tenant";r=599;t=42, "key";r=3;t=7, "monthly";r=0;t=86400');
    const reversed = rateLimitHeaders([monthly, key, tenant]);
    expect(reversed["RateLimit-Policy"]).toBe('"monthly";q=1000000;w=2592000, "key";q=100;w=60, "tenant";q=600;w=60');
  });

  it("X-RateLimit-* describe the per-minute policy with the lowest remaining, never the monthly one", () => {
    const headers = rateLimitHeaders([tenant, key, monthly]);
    expect(headers["X-RateLimit-Limit"]).toBe("100");
    expect(headers["X-RateLimit-Remaining"]).toBe("3");
    expect(headers["X-RateLimit-Reset"]).toBe("7");
  });

  it("picks the tenant policy when it is the tighter one, regardless of order", () => {
    const tightTenant: PolicyState = { ...tenant, remaining: 1, resetSeconds: 59 };
    const looseKey: PolicyState = { ...key, remaining: 50, resetSeconds: 2 };
    for (const input of [
      [tightTenant, looseKey],
      [looseKey, tightTenant],
    ]) {
      const headers = rateLimitHeaders(input);
      expect(headers["X-RateLimit-Limit"]).toBe("600");
      expect(headers["X-RateLimit-Remaining"]).toBe("1");
      expect(headers["X-RateLimit-Reset"]).toBe("59");
    }
  });

  it("on a tie in remaining, the first per-minute policy wins", () => {
    const a: PolicyState = { ...tenant, remaining: 5, resetSeconds: 10 };
    const b: PolicyState = { ...key, remaining: 5, resetSeconds: 20 };
    expect(rateLimitHeaders([a, b])["X-RateLimit-Limit"]).toBe("600");
    expect(rateLimitHeaders([b, a])["X-RateLimit-Limit"]).toBe("100");
  });

  it("only a monthly policy: the structured fields but no X-RateLimit-*", () => {
    expect(rateLimitHeaders([monthly])).toEqual({
      "RateLimit-Policy": '"monthly";q=1000000;w=2592000',
      RateLimit: '"monthly";r=0;t=86400',
    });
  });

  it("a monthly policy with the lowest remaining does not displace the per-minute one", () => {
    const headers = rateLimitHeaders([monthly, tenant]);
    expect(headers["X-RateLimit-Limit"]).toBe("600");
    expect(headers["X-RateLimit-Remaining"]).toBe("599");
    expect(headers["X-RateLimit-Reset"]).toBe("42");
  });

  it("zero remaining and zero reset are written as 0", () => {
    const exhausted: PolicyState = { ...tenant, remaining: 0, resetSeconds: 0 };
    expect(rateLimitHeaders([exhausted])).toEqual({
      "RateLimit-Policy": '"tenant";q=600;w=60',
      RateLimit: '"tenant";r=0;t=0',
      "X-RateLimit-Limit": "600",
      "X-RateLimit-Remaining": "0",
      "X-RateLimit-Reset": "0",
    });
  });
});
