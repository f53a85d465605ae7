import type { PolicyState } from "./protocol";

/**
 * `RateLimit-Policy` and `RateLimit` in the syntax of draft-ietf-httpapi-ratelimit-headers-10
 * (Structured Field lists of named policies: q = quota, w = window seconds, r = remaining,
 * t = seconds until quota is restored), plus the X-RateLimit-* trio for older clients, which
 * describes the per-minute policy closest to denying (Reset in seconds, like `t`).
 */
export function rateLimitHeaders(policies: readonly PolicyState[]): Record<string, string> {
  if (policies.length === 0) return {};
  const headers: Record<string, string> = {
    "RateLimit-Policy": policies.map((p) => `"${p.name}";q=${p.quota};w=${p.windowSeconds}`).join(", "),
    RateLimit: policies.map((p) => `"${p.name}";r=${p.remaining};t=${p.resetSeconds}`).join(", "),
  };
  const perMinute = policies.filter((p) => p.name !== "monthly");
  const tightest = perMinute.reduce<PolicyState | undefined>(
    (best, p) => (best === undefined || p.remaining < best.remaining ? p : best),
    undefined,
  );
  if (tightest) {
    headers["X-RateLimit-Limit"] = String(tightest.quota);
    headers["X-RateLimit-Remaining"] = String(tightest.remaining);
    headers["X-RateLimit-Reset"] = String(tightest.resetSeconds);
  }
  return headers;
}
