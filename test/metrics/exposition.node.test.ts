import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// /metrics as a scraper gets it from the Worker served by workerd, checked by Prometheus's own
// tools: `promtool check metrics` (the Debian package, unpacked by .ci/run) and the official
// Python client's parser (Debian's python3-prometheus-client), which reads it back so its values
// can be compared with what the tenant's requests were.
const PROMTOOL = process.env.PROMTOOL ?? ".tools/prometheus/usr/bin/promtool";
const PYTHON = process.env.PROMETHEUS_PYTHON ?? "/usr/bin/python3";

const PARSE = `
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    out.append({"name": family.name, "type": family.type,
                "samples": [{"name": s.name, "labels": s.labels, "value": s.value} for s in family.samples]})
print(json.dumps(out))
`;

type Parsed = {
  name: string;
  type: string;
  samples: { name: string; labels: Record<string, string>; value: number }[];
}[];

let server: ChildProcess | undefined;
let platform: { baseUrl: string; adminKey: string };

async function serveWorker() {
  const script = new URL("../../scripts/lib/serve-workerd.mjs", import.meta.url).pathname;
  server = spawn(process.execPath, [script, ".wrangler/metrics-test/dist"], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream });
  for await (const line of lines) if (line.startsWith("{")) return JSON.parse(line);
  throw new Error("the Worker did not start");
}

async function api(path: string, key: string, init: { method?: string; body?: unknown } = {}) {
  const res = await fetch(`${platform.baseUrl}${path}`, {
    method: init.method ?? "GET",
    headers: { Authorization: `Bearer ${key}`, "Content-Type": "application/json" },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  return { status: res.status, text, json: text.startsWith("{") ? JSON.parse(text) : undefined, headers: res.headers };
}

beforeAll(async () => {
  for (const [tool, hint] of [
    [PROMTOOL, "apt-get download prometheus && dpkg -x prometheus_*.deb .tools/prometheus, as .ci/run does"],
    [PYTHON, "apt-get install -y python3-prometheus-client, as .ci/run does"],
  ]) {
    if (!existsSync(tool as string)) throw new Error(`No ${tool}: ${hint}`);
  }
  platform = await serveWorker();
}, 180_000);

afterAll(() => {
  server?.stdin?.end();
});

describe("GET /metrics against Prometheus's tools", () => {
  it("passes promtool's lint and parses back to the figures the tenant's requests made", {
    timeout: 60_000,
  }, async () => {
    const admin = platform.adminKey;
    const tenant = await api("/v1/tenants", admin, {
      method: "POST",
      body: { name: "Scraped", slug: `scraped-${Date.now()}`, tier: "STANDARD" },
    });
    expect(tenant.status, tenant.text).toBe(201);
    const id = tenant.json.id as string;
    const key = await api(`/v1/tenants/${id}/keys`, admin, {
      method: "POST",
      body: { name: "k", scopes: ["entries:read", "entries:write", "tenant:admin"] },
    });
    const secret = key.json.secret as string;
    for (let i = 0; i < 4; i++) expect((await api("/v1/ping", secret)).status).toBe(200);
    expect((await api(`/v1/tenants/${id}/entries`, secret, { method: "POST", body: { data: { a: 1 } } })).status).toBe(
      201,
    );
    expect((await api(`/v1/tenants/${id}/entries/ent_01JD8X5Q3M2V7T6R4N9K0B1C2D`, secret)).status).toBe(404);
    // The samples ride to the gate after each response; the metrics GET has the gate send them.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const mine = await api(`/v1/tenants/${id}/metrics`, admin);
    expect(mine.status, mine.text).toBe(200);
    expect(mine.json.requests).toBe(6);

    const scraped = await api("/metrics", admin);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get("content-type")).toBe("text/plain; version=0.0.4; charset=utf-8");

    const lint = spawnSync(PROMTOOL, ["check", "metrics"], { input: scraped.text, encoding: "utf8" });
    expect(lint.status, `${lint.stdout}${lint.stderr}`).toBe(0);
    expect(`${lint.stdout}${lint.stderr}`.trim()).toBe("");

    const parsed = spawnSync(PYTHON, ["-c", PARSE], { input: scraped.text, encoding: "utf8" });
    expect(parsed.status, parsed.stderr).toBe(0);
    const families = JSON.parse(parsed.stdout) as Parsed;
    const samples = families.flatMap((family) => family.samples);
    const value = (name: string, labels: Record<string, string>) =>
      samples
        .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((sum, s) => sum + s.value, 0);
    const tenantLabel = { tenant: id };
    expect(value("edge_tenancy_tenant_requests_total", { ...tenantLabel, class: "2xx" })).toBe(5);
    expect(value("edge_tenancy_tenant_requests_total", { ...tenantLabel, class: "4xx" })).toBe(1);
    expect(value("edge_tenancy_tenant_request_duration_seconds_count", tenantLabel)).toBe(6);
    expect(value("edge_tenancy_tenant_request_duration_seconds_bucket", { ...tenantLabel, le: "+Inf" })).toBe(6);
    expect(value("edge_tenancy_tenant_gate_decisions_total", { ...tenantLabel, decision: "admitted" })).toBe(6);
    expect(value("edge_tenancy_tenant_response_bytes_total", tenantLabel)).toBe(mine.json.response_bytes);
    expect(value("edge_tenancy_requests_total", { tier: "STANDARD", route: "/v1/ping", class: "2xx" })).toBe(4);
    // The metrics GET above was a platform admin's: not tenant traffic. Every histogram family
    // parsed back with +Inf equal to its count, series by series.
    const histograms = families.filter((family) => family.type === "histogram");
    expect(histograms.length).toBeGreaterThanOrEqual(4);
    for (const family of histograms) {
      const counts = family.samples.filter((s) => s.name === `${family.name}_count`);
      for (const count of counts) {
        const inf = family.samples.find(
          (s) =>
            s.name === `${family.name}_bucket` &&
            s.labels.le === "+Inf" &&
            Object.entries(count.labels).every(([k, v]) => s.labels[k] === v),
        );
        expect(inf?.value, `${family.name} ${JSON.stringify(count.labels)}`).toBe(count.value);
      }
    }
  });
});
