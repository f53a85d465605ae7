// What request metrics, the slow-query log and usage metering cost a gated request: the same routes
// on two Workers built from one bundle, one with OBSERVABILITY off, at concurrency 1, phases
// interleaved (on, off, on, off, …) so machine noise hits both alike. Part of `npm run bench`;
// `node scripts/bench/observability.mjs` runs it alone. Afterwards the metered Worker's usage of the
// tenant must equal its gate's count of admitted requests, so the "on" side did do its work.
import { pathToFileURL } from "node:url";
import { startWorkerd } from "../lib/workerd.mjs";
import { aggregate, apiClient, createTenant } from "./client.mjs";
import { runLoad } from "./load.mjs";

const WARMUP_MS = 2000;
const PHASE_MS = 4000;
const ROUNDS = Number(process.env.OBS_ROUNDS ?? 4);
export const TARGET_P99_ADDED_MS = 0.5;

async function tenantWithEntries(api, baseUrl, slug) {
  const tenant = await createTenant(api, slug, 100_000_000, ["entries:read", "entries:write", "tenant:admin"]);
  for (let i = 0; i < 10; i++) {
    const res = await fetch(`${baseUrl}/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      headers: { authorization: `Bearer ${tenant.secret}`, "content-type": "application/json" },
      body: JSON.stringify({ data: { n: i, note: "a small document" } }),
    });
    if (res.status !== 201) throw new Error(`seeding an entry answered ${res.status}`);
  }
  return tenant;
}

/** `on` and `off`: started Workers ({ baseUrl, adminKey }), the second with OBSERVABILITY off. */
export async function runObservability({ on, off, log }) {
  const unique = Date.now().toString(36);
  const api = { on: apiClient(on.baseUrl, on.adminKey), off: apiClient(off.baseUrl, off.adminKey) };
  const tenants = {
    on: await tenantWithEntries(api.on, on.baseUrl, `bench-obs-${unique}`),
    off: await tenantWithEntries(api.off, off.baseUrl, `bench-obs-off-${unique}`),
  };
  const base = { on: on.baseUrl, off: off.baseUrl };
  const target = (side, path) => ({
    url: `${base[side]}${path.replace(":tenant", tenants[side].id)}`,
    headers: { authorization: `Bearer ${tenants[side].secret}` },
    concurrency: 1,
  });
  const routes = { ping: "/v1/ping", entries: "/v1/tenants/:tenant/entries?limit=10" };
  const phases = {};
  for (const route of Object.keys(routes)) {
    for (const side of ["on", "off"]) await runLoad({ ...target(side, routes[route]), durationMs: WARMUP_MS });
    phases[route] = { on: [], off: [] };
    for (let round = 1; round <= ROUNDS; round++) {
      for (const side of ["on", "off"]) {
        log(
          `measuring ${route}, observability ${side} (round ${round}/${ROUNDS}, ${PHASE_MS / 1000} s, concurrency 1)`,
        );
        phases[route][side].push(await runLoad({ ...target(side, routes[route]), durationMs: PHASE_MS }));
      }
    }
  }
  const results = {};
  const problems = [];
  for (const [route, sides] of Object.entries(phases)) {
    results[route] = { on: aggregate(sides.on), off: aggregate(sides.off) };
    for (const [side, r] of Object.entries(results[route])) {
      if (r.non2xx > 0 || r.errors.length > 0) problems.push(`${route} (${side}): ${JSON.stringify(r.statusCounts)}`);
    }
  }
  // The metered side counted every admitted request: its usage reaches the gate's monthly count.
  const limits = await api.on("GET", `/v1/tenants/${tenants.on.id}/limits`, undefined, 200);
  const admitted = limits.monthly_requests.used;
  let metered = null;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const usage = await api.on(
      "GET",
      `/v1/tenants/${tenants.on.id}/usage?meter=api_calls&granularity=month`,
      undefined,
      200,
    );
    metered = usage.meters[0].total.quantity;
    if (metered >= admitted) break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (metered !== admitted) problems.push(`usage metered ${metered} API calls, the gate admitted ${admitted}`);
  return { results, admitted, metered, problems };
}

/** The report's lines: per route, p50/p99 with and without, and what observability adds. */
export function observabilityReport({ results, admitted, metered }) {
  const ms = (v) => v.toFixed(3);
  const lines = [];
  for (const [route, { on, off }] of Object.entries(results)) {
    const p99 = on.latency.p99 - off.latency.p99;
    lines.push(
      `${route.padEnd(8)} on: p50 ${ms(on.latency.p50)} p99 ${ms(on.latency.p99)} (${on.requests} req) · off: p50 ${ms(off.latency.p50)} p99 ${ms(off.latency.p99)} (${off.requests} req) · added p50 ${ms(on.latency.p50 - off.latency.p50)} ms, p99 ${ms(p99)} ms → ${p99 <= TARGET_P99_ADDED_MS ? "PASS" : "MISS"} (≤ ${TARGET_P99_ADDED_MS} ms)`,
    );
  }
  lines.push(`usage metered ${metered} API calls; the gate admitted ${admitted}`);
  return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const log = (line = "") => process.stdout.write(`${line}\n`);
  const port = Number(process.env.BENCH_PORT ?? 8797);
  log("bundling the Worker and starting workerd twice: observability on, and off …");
  const on = await startWorkerd({ port });
  const off = await startWorkerd({
    port: port + 2,
    outDir: ".wrangler/bench/dist-unobserved",
    bindings: { OBSERVABILITY: "off" },
  });
  try {
    const result = await runObservability({ on, off, log });
    log();
    for (const line of observabilityReport(result)) log(line);
    for (const problem of result.problems) log(`PROBLEM: ${problem}`);
    if (result.problems.length > 0) process.exitCode = 1;
  } finally {
    await on.stop();
    await off.stop();
  }
}
