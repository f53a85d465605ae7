import type { ControlDb } from "../db/client";
import { degraded } from "../flags/degradation";
import { settings } from "../settings";
import { platformCounters } from "../stream/service";
import { addCell, type Cell, emptyCell, GATE_DECISIONS, MINUTE_MS, minuteOf } from "./cell";
import { Exposition, STATUS_CLASSES, sumBy } from "./exposition";
import { BUCKETS_MS, quantile } from "./histogram";
import { busiestTenants, type LabelledCell, tenantFigures, tenantTotals, tierTotals } from "./store";

/** Tenants are ranked by their requests over this last stretch for their own series in /metrics. */
const RANKING_WINDOW_MS = 3_600_000;

/** A request cell's label, `<METHOD> <route>`, split. */
const methodAndRoute = (label: string) => {
  const space = label.indexOf(" ");
  return { method: label.slice(0, space), route: label.slice(space + 1) };
};

const byClass = (labels: Record<string, string>, cell: Cell) =>
  STATUS_CLASSES.map(([name, field]) => ({ labels: { ...labels, class: name }, value: cell[field] }));

/**
 * The platform's metrics in the Prometheus text format: tier- and platform-level series always;
 * per-tenant series only for the METRICS_TOP_TENANTS tenants with the most requests in the last
 * hour, so the exposition stays bounded however many tenants there are. The counters are the
 * control database's totals, which only grow; they lag the requests by up to a minute (the gates
 * send a minute's figures shortly after it ends).
 */
export async function platformExposition(db: ControlDb, env: Env, now = Date.now()): Promise<string> {
  // Per-tenant series are the exposition's optional part, shed under load by a switch.
  const metricsTopTenants = (await degraded(env, db, "degrade.tenant-metrics")) ? 0 : settings(env).metricsTopTenants;
  const [tiers, top] = await Promise.all([
    tierTotals(db),
    busiestTenants(db, now - RANKING_WINDOW_MS, metricsTopTenants),
  ]);
  const tenants = await tenantTotals(db, top);
  const requests = tiers.filter((row) => row.series === "request");
  const shards = tiers.filter((row) => row.series === "shard");
  const gate = tiers.filter((row) => row.series === "gate");
  const out = new Exposition();

  out.counter(
    "edge_tenancy_requests_total",
    "Requests of tenant keys by tier, method, route template and status class.",
    requests.flatMap((row) => byClass({ tier: row.tier, ...methodAndRoute(row.label) }, row.cell)),
  );
  out.histogram(
    "edge_tenancy_request_duration_seconds",
    "Latency of tenant keys' requests (to the response's headers) by tier, method and route template.",
    requests.map((row) => ({ labels: { tier: row.tier, ...methodAndRoute(row.label) }, cell: row.cell })),
  );
  const tierRequests = sumBy(
    requests,
    (row) => row.tier,
    (row) => row.cell,
  );
  out.counter(
    "edge_tenancy_response_bytes_total",
    "Response body bytes sent to tenant keys, by tier.",
    [...tierRequests].map(([tier, cell]) => ({ labels: { tier }, value: cell.bytes })),
  );
  out.counter(
    "edge_tenancy_gate_decisions_total",
    "What the tenants' gates made of their keys' requests, by tier and decision.",
    gate.map((row) => ({ labels: { tier: row.tier, decision: row.label }, value: row.cell.count })),
  );
  const perShard = sumBy(
    shards,
    (row) => row.label,
    (row) => row.cell,
  );
  out.counter(
    "edge_tenancy_shard_calls_total",
    "Calls of requests to tenant shards, by shard and outcome.",
    [...perShard].flatMap(([shard, cell]) => [
      { labels: { shard, outcome: "ok" }, value: cell.count - cell.s5xx },
      { labels: { shard, outcome: "error" }, value: cell.s5xx },
    ]),
  );
  out.histogram(
    "edge_tenancy_shard_call_duration_seconds",
    "Latency of calls to tenant shards, by shard.",
    [...perShard].map(([shard, cell]) => ({ labels: { shard }, cell })),
  );

  const platform = emptyCell();
  for (const cell of tierRequests.values()) addCell(platform, cell);
  out.counter(
    "edge_tenancy_platform_requests_total",
    "Requests of tenant keys by status class, all tiers.",
    byClass({}, platform),
  );
  out.histogram("edge_tenancy_platform_request_duration_seconds", "Latency of tenant keys' requests, all tiers.", [
    { labels: {}, cell: platform },
  ]);
  const decisions = sumBy(
    gate,
    (row) => row.label,
    (row) => row.cell,
  );
  out.counter(
    "edge_tenancy_platform_gate_decisions_total",
    "What the gates made of tenant keys' requests, by decision, all tiers.",
    GATE_DECISIONS.map((decision) => ({ labels: { decision }, value: decisions.get(decision)?.count ?? 0 })),
  );

  const tenantRequests = sumBy(
    tenants.filter((row) => row.series === "request"),
    (row) => row.tenantId,
    (row) => row.cell,
  );
  const tenantGate = tenants.filter((row) => row.series === "gate");
  out.gauge(
    "edge_tenancy_metrics_tenants_reported",
    "Tenants with series of their own below: the busiest of the last hour, at most METRICS_TOP_TENANTS.",
    [{ labels: {}, value: top.length }],
  );
  out.counter(
    "edge_tenancy_tenant_requests_total",
    "Requests of one of the busiest tenants' keys by status class.",
    top.flatMap((tenant) => byClass({ tenant }, tenantRequests.get(tenant) ?? emptyCell())),
  );
  out.histogram(
    "edge_tenancy_tenant_request_duration_seconds",
    "Latency of one of the busiest tenants' requests.",
    top.map((tenant) => ({ labels: { tenant }, cell: tenantRequests.get(tenant) ?? emptyCell() })),
  );
  out.counter(
    "edge_tenancy_tenant_response_bytes_total",
    "Response body bytes sent to one of the busiest tenants' keys.",
    top.map((tenant) => ({ labels: { tenant }, value: tenantRequests.get(tenant)?.bytes ?? 0 })),
  );
  const perTenantDecision = sumBy(
    tenantGate,
    (row) => `${row.tenantId} ${row.label}`,
    (row) => row.cell,
  );
  out.counter(
    "edge_tenancy_tenant_gate_decisions_total",
    "What one of the busiest tenants' gate made of its keys' requests, by decision.",
    [...perTenantDecision].map(([key, cell]) => {
      const [tenant, decision] = key.split(" ") as [string, string];
      return { labels: { tenant, decision }, value: cell.count };
    }),
  );
  // The realtime stream, as the tenants' hubs last reported (a few seconds after each change).
  const stream = await platformCounters(db);
  out.gauge("edge_tenancy_stream_connections", "Realtime stream connections open.", [
    { labels: {}, value: stream.active },
  ]);
  out.counter("edge_tenancy_stream_connections_opened_total", "Realtime stream connections opened.", [
    { labels: {}, value: stream.opened },
  ]);
  out.counter(
    "edge_tenancy_stream_connections_refused_total",
    "Realtime stream connections refused at the tenant's plan's limit.",
    [{ labels: {}, value: stream.refused }],
  );
  out.counter(
    "edge_tenancy_stream_connections_dropped_total",
    "Realtime stream connections the platform closed (resync, revoked key, tenant gone, bad message).",
    [{ labels: {}, value: stream.dropped }],
  );
  out.counter("edge_tenancy_stream_resyncs_total", "Realtime stream clients sent resync: too far behind.", [
    { labels: {}, value: stream.resyncs },
  ]);
  out.counter(
    "edge_tenancy_stream_coalesced_total",
    "Updates held for a realtime stream client behind and replaced by a later one of the same subject.",
    [{ labels: {}, value: stream.coalesced }],
  );
  return out.text();
}

export const WINDOWS = { "1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000 } as const;
export type Window = keyof typeof WINDOWS;

/** Microseconds are past what the buckets can tell. */
const ms = (value: number | null) => (value === null ? null : Math.round(value * 1000) / 1000);

/** A histogram's summary: p50/p95/p99 and mean in ms (null when it holds nothing). */
const latency = (cell: Cell) => ({
  p50: ms(quantile(cell.buckets, 0.5)),
  p95: ms(quantile(cell.buckets, 0.95)),
  p99: ms(quantile(cell.buckets, 0.99)),
  mean: cell.count === 0 ? null : ms(cell.sumMs / cell.count),
});

const ratio = (part: number, whole: number) => (whole === 0 ? 0 : part / whole);

/**
 * One tenant's figures over the window ending with the current minute: rate, error rates,
 * latency quantiles from the histogram, then by route, by shard and by gate decision.
 */
export async function tenantMetrics(db: ControlDb, tenantId: string, window: Window, now = Date.now()) {
  const to = minuteOf(now) + MINUTE_MS;
  const from = to - WINDOWS[window];
  const cells = await tenantFigures(db, tenantId, from, to);
  const of = (series: LabelledCell["series"]) => cells.filter((row) => row.series === series);
  const requests = emptyCell();
  for (const row of of("request")) addCell(requests, row.cell);
  const decisions = new Map(of("gate").map((row) => [row.label, row.cell.count]));
  return {
    tenant_id: tenantId,
    window,
    from: new Date(from).toISOString(),
    to: new Date(to).toISOString(),
    requests: requests.count,
    rate_per_second: requests.count / (WINDOWS[window] / 1000),
    error_rate: ratio(requests.s5xx, requests.count),
    client_error_rate: ratio(requests.s4xx, requests.count),
    status_classes: Object.fromEntries(STATUS_CLASSES.map(([name, field]) => [name, requests[field]])),
    latency_ms: latency(requests),
    response_bytes: requests.bytes,
    gate: Object.fromEntries(GATE_DECISIONS.map((decision) => [decision, decisions.get(decision) ?? 0])),
    routes: of("request")
      .map((row) => ({
        ...methodAndRoute(row.label),
        requests: row.cell.count,
        errors: row.cell.s5xx,
        client_errors: row.cell.s4xx,
        latency_ms: latency(row.cell),
      }))
      .sort((a, b) => b.requests - a.requests),
    shards: of("shard").map((row) => ({
      shard_id: row.label,
      calls: row.cell.count,
      errors: row.cell.s5xx,
      latency_ms: latency(row.cell),
    })),
    buckets_ms: [...BUCKETS_MS],
  };
}
