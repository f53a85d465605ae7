// `npm run bench`: what the tenant gate costs, measured against a bare route in one run.
// Method: bundle the Worker as `wrangler deploy` does and serve it straight from workerd (Miniflare,
// the bindings of wrangler.toml, empty in-memory storage; not `wrangler dev`, whose Node proxy would
// dominate every request's time), create two
// tenants through the API: one with limits far above the load (never throttled), one limited to 100
// requests/minute. Warm both routes up, then interleave measured phases (bare, gated, bare, gated) at
// a fixed concurrency on keep-alive sockets so machine noise hits both routes alike; aggregate per
// route and report gated/bare throughput. The latency the gate adds is measured the same way at
// concurrency 1, where a request never queues behind another on this 2-core machine (under
// saturation every extra millisecond of CPU shows up as queueing in both routes). The Worker's own
// `Server-Timing: gate;dur=` values give the gate call's latency without the client and proxy.
// Exactness: 1,000 requests at once on 1,000 sockets against the 100/min tenant must admit exactly
// 100, reject the rest with 429 problem+json carrying Retry-After, and the gate's count must agree.
// Exit codes: 0 whatever the performance targets say; 1 on errors, unexpected statuses or NOT EXACT.
import os from "node:os";
import { startWorkerd } from "../lib/workerd.mjs";
import { aggregate, apiClient, createTenant } from "./client.mjs";
import { runExportBench } from "./export.mjs";
import { burst, runLoad } from "./load.mjs";
import { observabilityReport, runObservability } from "./observability.mjs";
import { runScale } from "./scale.mjs";
import { rounded, summarize } from "./stats.mjs";

const PORT = Number(process.env.BENCH_PORT ?? 8797);
const CONCURRENCY = 8;
const LATENCY_PHASE_MS = 4000;
const WARMUP_MS = 2000;
const PHASE_MS = 5000;
const ROUNDS = 2;
const WRITE_ROUNDS = 3;
const TARGET_WRITE_P99_ADDED_MS = 1;
const BURST_REQUESTS = 1000;
const BURST_LIMIT = 100;
const TARGET_RATIO = 0.5;
const TARGET_P99_ADDED_MS = 2;
const TARGET_PAGE_RATIO = 1.5;
const TARGET_ROUTE_RATIO = 1.2;

const problems = [];
// Other processes on the machine skew absolute numbers; the load average shows how busy it was.
const loadBefore = os.loadavg()[0];
const log = (line = "") => process.stdout.write(`${line}\n`);

log("bundling the Worker and starting workerd, twice: with the audit trail, and without it …");
const platform = await startWorkerd({ port: PORT });
const untracked = await startWorkerd({
  port: PORT + 1,
  outDir: ".wrangler/bench/dist-untracked",
  bindings: { AUDIT_TRAIL: "off" },
});
try {
  await main(platform, untracked);
} catch (error) {
  process.stderr.write(`bench failed: ${error.stack ?? error}\n`);
  process.exitCode = 1;
} finally {
  await untracked.stop();
}

// Request metrics, slow queries and usage metering on vs off (see observability.mjs).
try {
  log();
  log("observability: the gated routes with metrics and usage on, and on a Worker with them off");
  const unobserved = await startWorkerd({
    port: PORT + 2,
    outDir: ".wrangler/bench/dist-unobserved",
    bindings: { OBSERVABILITY: "off" },
  });
  try {
    const result = await runObservability({ on: platform, off: unobserved, log });
    log();
    for (const line of observabilityReport(result)) log(line);
    for (const problem of result.problems) log(`PROBLEM: ${problem}`);
    if (result.problems.length > 0) process.exitCode = 1;
  } finally {
    await unobserved.stop();
  }
} catch (error) {
  process.stderr.write(`observability bench failed: ${error.stack ?? error}\n`);
  process.exitCode = 1;
} finally {
  await platform.stop();
}

// The export of a large tenant, each size on a Worker of its own (see export.mjs).
try {
  log();
  log("export: a seeded tenant of 100,000 then 1,000,000 entries, each on a fresh Worker with its storage on disk");
  reportExport(await runExportBench({ log }));
} catch (error) {
  process.stderr.write(`export bench failed: ${error.stack ?? error}\n`);
  process.exitCode = 1;
}

function reportExport({ results, spread, flat }) {
  log(
    table(
      [
        "export",
        "rows",
        "ZIP MiB",
        "writing s",
        "rows/s",
        "with read-back s",
        "live heap max MiB",
        "workerd RSS + MiB",
      ],
      results.map((r) => [
        `${r.entries.toLocaleString("en")} entries`,
        r.rows.toLocaleString("en"),
        (r.bytes / 1048576).toFixed(1),
        (r.writingMs / 1000).toFixed(1),
        Math.round(r.rowsPerSecond).toLocaleString("en"),
        (r.totalMs / 1000).toFixed(1),
        r.heapPeakMiB.toFixed(1),
        r.addedMiB.toFixed(0),
      ]),
    ),
  );
  log(
    table(
      ["export memory", "value", "target", "result"],
      [["live heap max, largest / smallest − 1", `${(spread * 100).toFixed(0)} %`, "≤ 20 %", flat ? "PASS" : "MISS"]],
    ),
  );
}

async function main({ baseUrl, adminKey, d1 }, withoutTrail) {
  const api = apiClient(baseUrl, adminKey);
  const unique = Date.now().toString(36);
  const open = await createTenant(api, `bench-${unique}`, 100_000_000);
  const limited = await createTenant(api, `bench-exact-${unique}`, BURST_LIMIT);
  const bare = { url: `${baseUrl}/ping`, headers: {} };
  const gated = { url: `${baseUrl}/v1/ping`, headers: { authorization: `Bearer ${open.secret}` } };

  log(`warm-up: ${WARMUP_MS / 1000} s per route`);
  for (const target of [bare, gated]) await runLoad({ ...target, concurrency: CONCURRENCY, durationMs: WARMUP_MS });

  const phases = { bare: [], gated: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, target] of [
      ["bare", bare],
      ["gated", gated],
    ]) {
      log(`measuring ${name} (round ${round}/${ROUNDS}, ${PHASE_MS / 1000} s, concurrency ${CONCURRENCY})`);
      phases[name].push(await runLoad({ ...target, concurrency: CONCURRENCY, durationMs: PHASE_MS }));
    }
  }
  const throughput = { bare: aggregate(phases.bare), gated: aggregate(phases.gated) };

  const single = { bare: [], gated: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [name, target] of [
      ["bare", bare],
      ["gated", gated],
    ]) {
      log(`measuring ${name} latency (round ${round}/${ROUNDS}, ${LATENCY_PHASE_MS / 1000} s, concurrency 1)`);
      single[name].push(await runLoad({ ...target, concurrency: 1, durationMs: LATENCY_PHASE_MS }));
    }
  }
  const latency = { bare: aggregate(single.bare), gated: aggregate(single.gated) };
  for (const [name, result] of [...Object.entries(throughput), ...Object.entries(latency)]) {
    if (result.non2xx > 0 || result.errors.length > 0) {
      problems.push(`${name}: ${result.non2xx} non-2xx/failed responses ${JSON.stringify(result.statusCounts)}`);
    }
  }
  const timings = [...phases.gated, ...single.gated].flatMap((p) => p.serverTimings);
  // workerd coarsens its clocks; whole-ms values mean the header's two decimals carry no information.
  const gateTiming = { ...summarize(timings), wholeMsShare: timings.filter(Number.isInteger).length / timings.length };
  const gatedCount = throughput.gated.requests + latency.gated.requests;
  if (gateTiming.count !== gatedCount) {
    problems.push(`only ${gateTiming.count} of ${gatedCount} gated responses had gate Server-Timing`);
  }

  log("write path: POST an entry with the event outbox and audit trail on, and on a Worker with them off");
  const writes = await runWrites(
    api,
    baseUrl,
    apiClient(withoutTrail.baseUrl, withoutTrail.adminKey),
    withoutTrail.baseUrl,
  );

  log(`exactness: ${BURST_REQUESTS} requests at once, tenant limit ${BURST_LIMIT}/min`);
  const exactness = await runExactness(api, baseUrl, limited);

  log("scale: deep pagination and a large tenant registry");
  const scale = await runScale({ api, baseUrl, d1, log });

  report(throughput, latency, gateTiming, exactness, scale, writes);
}

/**
 * POST /v1/tenants/:id/entries at concurrency 1 on two Workers built from the same bundle, one
 * with AUDIT_TRAIL off, phases interleaved (on, off, on, off, …) so machine noise hits both alike.
 * With the trail on, each write also commits its event and audit record in its own batch, and
 * the relay's pass runs after the response (waitUntil) in the same isolate, as deployed.
 */
async function runWrites(api, baseUrl, apiWithout, baseWithout) {
  const unique = Date.now().toString(36);
  const on = await createTenant(api, `bench-writes-${unique}`, 100_000_000, ["entries:write"]);
  const off = await createTenant(apiWithout, `bench-writes-off-${unique}`, 100_000_000, ["entries:write"]);
  const target = (base, tenant) => ({
    url: `${base}/v1/tenants/${tenant.id}/entries`,
    method: "POST",
    headers: { authorization: `Bearer ${tenant.secret}`, "content-type": "application/json" },
    body: JSON.stringify({ data: { kind: "bench", n: 1, note: "a small document" }, tags: ["bench"] }),
    concurrency: 1,
  });
  const targets = [
    ["on", target(baseUrl, on)],
    ["off", target(baseWithout, off)],
  ];
  for (const [, t] of targets) await runLoad({ ...t, durationMs: WARMUP_MS });
  const phases = { on: [], off: [] };
  for (let round = 1; round <= WRITE_ROUNDS; round++) {
    for (const [name, t] of targets) {
      log(
        `measuring writes, trail ${name} (round ${round}/${WRITE_ROUNDS}, ${LATENCY_PHASE_MS / 1000} s, concurrency 1)`,
      );
      phases[name].push(await runLoad({ ...t, durationMs: LATENCY_PHASE_MS }));
    }
  }
  const result = { on: aggregate(phases.on), off: aggregate(phases.off) };
  for (const [name, r] of Object.entries(result)) {
    if (r.non2xx > 0 || r.errors.length > 0) {
      problems.push(`writes, trail ${name}: ${r.non2xx} non-2xx/failed responses ${JSON.stringify(r.statusCounts)}`);
    }
  }
  // The trail's records of the measured writes are all there, linked.
  const verified = await api("GET", `/v1/tenants/${on.id}/audit/verify`, undefined, 200);
  if (!verified.ok) problems.push(`the write tenant's audit trail does not verify: ${JSON.stringify(verified.broken)}`);
  return { ...result, verified };
}

async function runExactness(api, baseUrl, tenant) {
  const started = performance.now();
  const responses = await burst({
    url: `${baseUrl}/v1/ping`,
    headers: { authorization: `Bearer ${tenant.secret}` },
    count: BURST_REQUESTS,
  });
  const elapsedMs = performance.now() - started;
  const statusCounts = {};
  for (const res of responses) statusCounts[res.status] = (statusCounts[res.status] ?? 0) + 1;
  const rejected = responses.filter((res) => res.status === 429);
  const malformed = rejected.filter(
    (res) => !String(res.headers["content-type"]).startsWith("application/problem+json") || !res.headers["retry-after"],
  );
  const errors = [...new Set(responses.filter((res) => res.error).map((res) => String(res.error.message)))];
  // What the refusals said, e.g. "429 rate-limited: The tenant's limit of 100 requests per minute is reached".
  const refusals = {};
  for (const res of responses.filter((r) => r.status !== 200 && !r.error)) {
    const reason = `${res.status} ${problemOf(res.body)}`;
    refusals[reason] = (refusals[reason] ?? 0) + 1;
  }
  const limits = await api("GET", `/v1/tenants/${tenant.id}/limits`, undefined, 200);
  const tenantWindow = limits.rate_limits?.find((policy) => policy.policy === "tenant") ?? limits.rate_limits?.[0];
  const admitted = statusCounts[200] ?? 0;
  const result = {
    requests: BURST_REQUESTS,
    limit: BURST_LIMIT,
    elapsedMs,
    admitted,
    rejected429: rejected.length,
    status503: statusCounts[503] ?? 0,
    statusCounts,
    refusals,
    malformed429: malformed.length,
    retryAfterValues: [...new Set(rejected.map((res) => res.headers["retry-after"]))].slice(0, 5),
    gateUsed: tenantWindow?.used ?? null,
    gateInFlightAfter: limits.concurrency?.in_flight ?? null,
    errors: errors.slice(0, 5),
    exact: admitted === BURST_LIMIT,
  };
  if (!result.exact)
    problems.push(`NOT EXACT: admitted ${admitted} of ${BURST_REQUESTS} with a limit of ${BURST_LIMIT}`);
  if (malformed.length > 0) problems.push(`${malformed.length} 429s lacked application/problem+json or Retry-After`);
  if (result.gateUsed !== admitted)
    problems.push(`the gate counts ${result.gateUsed} used, the client saw ${admitted}`);
  if (admitted + rejected.length !== BURST_REQUESTS) {
    problems.push(`burst: statuses other than 200/429: ${JSON.stringify(statusCounts)} ${errors.join("; ")}`);
  }
  return result;
}

function report(throughput, latency, gateTiming, exactness, scale, writes) {
  const { bare, gated } = throughput;
  const ratio = gated.rps / bare.rps;
  const p99AddedMs = latency.gated.latency.p99 - latency.bare.latency.p99;
  const p50AddedMs = latency.gated.latency.p50 - latency.bare.latency.p50;
  const loadedP99AddedMs = gated.latency.p99 - bare.latency.p99;
  const verdict = (ok) => (ok ? "PASS" : "MISS");
  const ms = (v) => v.toFixed(2);

  log();
  log(
    `edge-tenancy bench — ${os.cpus().length} cores, Node ${process.version}, workerd (Miniflare) on 127.0.0.1:${PORT}`,
  );
  const loadAfter = os.loadavg()[0];
  log(`1-min load average before / after: ${loadBefore.toFixed(2)} / ${loadAfter.toFixed(2)}`);
  log(
    `${ROUNDS} × ${PHASE_MS / 1000} s per route at concurrency ${CONCURRENCY}, then ${ROUNDS} × ` +
      `${LATENCY_PHASE_MS / 1000} s at concurrency 1, interleaved, keep-alive`,
  );
  log();
  log(
    table(
      ["route", "requests", "req/s", "phases req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "non-2xx"],
      [
        ["GET /ping (bare), concurrency 8", bare],
        ["GET /v1/ping (gated), concurrency 8", gated],
        ["GET /ping (bare), concurrency 1", latency.bare],
        ["GET /v1/ping (gated), concurrency 1", latency.gated],
      ].map(([name, r]) => [
        name,
        r.requests,
        r.rps.toFixed(0),
        r.phaseRps.map((v) => v.toFixed(0)).join(" / "),
        ms(r.latency.p50),
        ms(r.latency.p90),
        ms(r.latency.p99),
        ms(r.latency.max),
        r.non2xx,
      ]),
    ),
  );
  log();
  log(
    table(
      ["gate cost", "value", "target", "result"],
      [
        [
          "gated / bare throughput",
          `${(ratio * 100).toFixed(1)} %`,
          `≥ ${TARGET_RATIO * 100} %`,
          verdict(ratio >= TARGET_RATIO),
        ],
        [
          "p99 added (gated − bare, concurrency 1)",
          `${ms(p99AddedMs)} ms`,
          `≤ ${TARGET_P99_ADDED_MS} ms`,
          verdict(p99AddedMs <= TARGET_P99_ADDED_MS),
        ],
        ["p50 added (gated − bare, concurrency 1)", `${ms(p50AddedMs)} ms`, "", ""],
        ["p99 added at concurrency 8 (queueing included)", `${ms(loadedP99AddedMs)} ms`, "", ""],
      ],
    ),
  );
  log();
  const wholeMs = `${(gateTiming.wholeMsShare * 100).toFixed(0)} % of values are whole ms`;
  log(`gate call (Server-Timing gate;dur, ${gateTiming.count} gated responses; ${wholeMs}):`);
  const g = gateTiming;
  log(`  p50 ${ms(g.p50)} ms   p99 ${ms(g.p99)} ms   mean ${ms(g.mean)} ms   max ${ms(g.max)} ms`);
  log();
  const e = exactness;
  log(`exactness burst (${e.requests} requests at once in ${(e.elapsedMs / 1000).toFixed(2)} s):`);
  log(`  admitted ${e.admitted} of ${e.requests} (limit ${e.limit}) → ${e.exact ? "EXACT" : "NOT EXACT"}`);
  const wellFormed = e.rejected429 - e.malformed429;
  const retryAfter = e.retryAfterValues.join(", ");
  log(`  429: ${e.rejected429} (${wellFormed} problem+json with Retry-After; Retry-After ${retryAfter})`);
  log(`  503: ${e.status503}   statuses: ${JSON.stringify(e.statusCounts)}`);
  if (e.errors.length > 0) log(`  transport errors: ${e.errors.join("; ")}`);
  for (const [reason, n] of Object.entries(e.refusals)) log(`  ${n} × ${reason}`);
  log(`  gate's own count afterwards: used ${e.gateUsed}, in flight ${e.gateInFlightAfter}`);
  log();
  const sc = scale;
  log(
    `scale (${sc.entries.toLocaleString("en")} entries seeded in ${(sc.seedMs / 1000).toFixed(1)} s; ` +
      `registries of ${sc.tenantsSmall.toLocaleString("en")} and ${sc.tenantsLarge.toLocaleString("en")} tenants; concurrency 1):`,
  );
  log(
    table(
      ["request", "p50 ms", "p90 ms", "p99 ms"],
      [
        [`entries page 1 (${sc.pageSize} per page)`, sc.page1],
        [`entries page ${sc.deepPage.toLocaleString("en")}`, sc.pageDeep],
        [`gated entries read, ${sc.tenantsSmall.toLocaleString("en")} tenants`, sc.routeSmall],
        [`gated entries read, ${sc.tenantsLarge.toLocaleString("en")} tenants`, sc.routeLarge],
      ].map(([name, r]) => [name, ms(r.p50), ms(r.p90), ms(r.p99)]),
    ),
  );
  log(
    table(
      ["scale ratio (p50)", "value", "target", "result"],
      [
        [
          `page ${sc.deepPage} / page 1`,
          sc.pageRatio.toFixed(2),
          `≤ ${TARGET_PAGE_RATIO}`,
          verdict(sc.pageRatio <= TARGET_PAGE_RATIO),
        ],
        [
          `${sc.tenantsLarge.toLocaleString("en")} / ${sc.tenantsSmall} tenants`,
          sc.routeRatio.toFixed(2),
          `≤ ${TARGET_ROUTE_RATIO}`,
          verdict(sc.routeRatio <= TARGET_ROUTE_RATIO),
        ],
      ],
    ),
  );
  const writeP50AddedMs = writes.on.latency.p50 - writes.off.latency.p50;
  const writeP99AddedMs = writes.on.latency.p99 - writes.off.latency.p99;
  log();
  log(
    table(
      [
        "write path (POST entry, concurrency 1)",
        "requests",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "non-2xx",
      ],
      [
        ["outbox + audit trail on", writes.on],
        ["AUDIT_TRAIL off", writes.off],
      ].map(([name, r]) => [
        name,
        r.requests,
        r.rps.toFixed(0),
        ms(r.latency.p50),
        ms(r.latency.p90),
        ms(r.latency.p99),
        ms(r.latency.max),
        r.non2xx,
      ]),
    ),
  );
  log(
    table(
      ["trail cost", "value", "target", "result"],
      [
        [
          "p99 added (on − off)",
          `${ms(writeP99AddedMs)} ms`,
          `≤ ${TARGET_WRITE_P99_ADDED_MS} ms`,
          verdict(writeP99AddedMs <= TARGET_WRITE_P99_ADDED_MS),
        ],
        ["p50 added (on − off)", `${ms(writeP50AddedMs)} ms`, "", ""],
        ["audit records of the run verified", `${writes.verified.checked}`, "ok", verdict(writes.verified.ok)],
      ],
    ),
  );
  log();
  if (problems.length > 0) {
    for (const problem of problems) log(`ERROR: ${problem}`);
    process.exitCode = 1;
  } else {
    log("no errors");
  }

  const result = {
    machine: { cores: os.cpus().length, node: process.version, loadBefore, loadAfter },
    config: { concurrency: CONCURRENCY, warmupMs: WARMUP_MS, phaseMs: PHASE_MS, latencyPhaseMs: LATENCY_PHASE_MS },
    bare: { ...bare, errors: undefined },
    gated: { ...gated, errors: undefined },
    single: { bare: { ...latency.bare, errors: undefined }, gated: { ...latency.gated, errors: undefined } },
    ratio,
    p50AddedMs,
    p99AddedMs,
    loadedP99AddedMs,
    targets: {
      ratio: { min: TARGET_RATIO, pass: ratio >= TARGET_RATIO },
      p99AddedMs: { max: TARGET_P99_ADDED_MS, pass: p99AddedMs <= TARGET_P99_ADDED_MS },
    },
    gateTiming,
    writes: {
      on: { ...writes.on, errors: undefined, latencies: undefined },
      off: { ...writes.off, errors: undefined, latencies: undefined },
      p50AddedMs: writeP50AddedMs,
      p99AddedMs: writeP99AddedMs,
      target: { max: TARGET_WRITE_P99_ADDED_MS, pass: writeP99AddedMs <= TARGET_WRITE_P99_ADDED_MS },
      verified: writes.verified,
    },
    exactness,
    scale: {
      ...scale,
      targets: {
        pageRatio: { max: TARGET_PAGE_RATIO, pass: scale.pageRatio <= TARGET_PAGE_RATIO },
        routeRatio: { max: TARGET_ROUTE_RATIO, pass: scale.routeRatio <= TARGET_ROUTE_RATIO },
      },
    },
    problems,
  };
  log(`BENCH_RESULT ${JSON.stringify(rounded(result))}`);
}

/** "<type slug>: <detail>" of a problem+json body, or the start of any other body. */
function problemOf(body) {
  try {
    const problem = JSON.parse(body);
    return `${String(problem.type).split("/").pop()}: ${problem.detail}`;
  } catch {
    return JSON.stringify(body.slice(0, 80));
  }
}

/** Left-aligned first column, right-aligned numbers. */
function table(header, rows) {
  const cells = [header, ...rows].map((row) => row.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((row) => row[i].length)));
  const line = (row) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
  return [line(cells[0]), widths.map((w) => "-".repeat(w)).join("  "), ...cells.slice(1).map(line)].join("\n");
}
