// The bench's client side: the API with the admin key, bench tenants, and the sum of measured phases.
import { summarize } from "./stats.mjs";

/** JSON calls to the platform's API with the admin key. */
export function apiClient(baseUrl, adminKey) {
  return async (method, path, body, expected) => {
    const res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${adminKey}`, "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status !== expected)
      throw new Error(`${method} ${path} answered ${res.status}, expected ${expected}: ${text}`);
    return JSON.parse(text);
  };
}

/** A tenant with the given per-minute limit, a bulkhead the bench cannot fill and no monthly quota. */
export async function createTenant(api, slug, requestsPerMinute, scopes = ["entries:read"]) {
  const tenant = await api("POST", "/v1/tenants", { name: "Bench", slug, tier: "ENTERPRISE" }, 201);
  const limits = { requests_per_minute: requestsPerMinute, max_concurrency: 10_000, monthly_requests: null };
  await api("PATCH", `/v1/tenants/${tenant.id}`, { limits }, 200);
  const key = await api("POST", `/v1/tenants/${tenant.id}/keys`, { name: "bench", scopes }, 201);
  return { id: tenant.id, secret: key.secret };
}

/** Sums the measured phases of one route. */
export function aggregate(results) {
  const latencies = results.flatMap((r) => r.latencies);
  const elapsedMs = results.reduce((sum, r) => sum + r.elapsedMs, 0);
  const statusCounts = {};
  for (const result of results) {
    for (const [status, n] of Object.entries(result.statusCounts))
      statusCounts[status] = (statusCounts[status] ?? 0) + n;
  }
  const ok = Object.entries(statusCounts)
    .filter(([status]) => status >= 200 && status < 300)
    .reduce((sum, [, n]) => sum + n, 0);
  const total = Object.values(statusCounts).reduce((sum, n) => sum + n, 0);
  return {
    requests: latencies.length,
    elapsedMs,
    rps: (latencies.length / elapsedMs) * 1000,
    latency: summarize(latencies),
    phaseRps: results.map((r) => (r.requests / r.elapsedMs) * 1000),
    statusCounts,
    non2xx: total - ok,
    errors: results.flatMap((r) => r.errors),
  };
}
