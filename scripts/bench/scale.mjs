// Scale checks of issue 4, measured in one run against a baseline of the same run:
// - keyset pagination stays flat with depth: seed ENTRIES entries into one tenant's D1 shard, then
//   compare page 1 with page 1,000 (50 per page) of GET /v1/tenants/:id/entries;
// - routing does not grow with the registry: the same gated request with 100 and with 100,000
//   registered tenants.
// Rows are generated inside SQLite (a recursive CTE), in chunks, so seeding a million entries
// takes seconds, and they pass through the same triggers (tag index, usage counters) as API writes.
import http from "node:http";
import { encodeCursor } from "../../src/http/cursor.ts";
import { send } from "./load.mjs";
import { summarize } from "./stats.mjs";

const ENTRIES = Number(process.env.BENCH_SCALE_ENTRIES ?? 1_000_000);
const PAGE = 50;
const DEEP_PAGE = 1000;
const TENANTS = 100_000;
const CHUNK = 50_000;
const SAMPLES = 400;

/** ULID-shaped ids whose order is the seeding order: ent_ + 26 Crockford digits. */
const entryId = (i) => `ent_${String(i).padStart(26, "0")}`;

/** Calls `insert(from, to)` over 1…count in ranges of CHUNK rows. */
async function inChunks(count, insert) {
  for (let from = 1; from <= count; from += CHUNK) await insert(from, Math.min(count, from + CHUNK - 1));
}

const seedEntries = (db, tenantId, count) =>
  inChunks(count, (from, to) =>
    db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         INSERT INTO entries (tenant_id, id, data, tags, version, size_bytes, created_at, updated_at)
         SELECT ?3, 'ent_' || printf('%026d', i), '{"i":' || i || '}', '[]', 1, length('{"i":' || i || '}'), ?4, ?4 FROM n`,
      )
      .bind(from, to, tenantId, Date.now())
      .run(),
  );

const seedTenants = (db, count, shardId) =>
  inChunks(count, (from, to) =>
    db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         INSERT INTO tenants (id, slug, name, tier, status, shard_id, created_at, updated_at)
         SELECT 'ten_' || printf('%026d', i), 'registry-' || i, 'Registry ' || i, 'FREE', 'ACTIVE', ?3, ?4, ?4 FROM n`,
      )
      .bind(from, to, shardId, Date.now())
      .run(),
  );

/** Alternates the targets request by request on one keep-alive socket each; raw latencies per target. */
async function alternate(targets, samples) {
  const agents = targets.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const latencies = targets.map(() => []);
  for (let i = 0; i < samples + 20; i++) {
    for (const [t, target] of targets.entries()) {
      const res = await send(agents[t], target.url, { headers: target.headers });
      if (res.status !== 200) throw new Error(`${target.url} answered ${res.status}: ${res.body}`);
      if (target.check) target.check(res);
      if (i >= 20) latencies[t].push(res.ms); // the first 20 rounds warm up
    }
  }
  for (const agent of agents) agent.destroy();
  return latencies;
}

export async function runScale({ api, baseUrl, d1, log }) {
  if (ENTRIES < DEEP_PAGE * PAGE) throw new Error(`BENCH_SCALE_ENTRIES must be at least ${DEEP_PAGE * PAGE}`);
  // Deep pagination: an ENTERPRISE tenant (no entry quota) on the dedicated D1 shard.
  const big = await api(
    "POST",
    "/v1/tenants",
    { name: "Scale", slug: `scale-${Date.now().toString(36)}`, tier: "ENTERPRISE" },
    201,
  );
  const key = await api("POST", `/v1/tenants/${big.id}/keys`, { name: "scale", scopes: ["entries:read"] }, 201);
  const shard = (await api("GET", `/v1/shards/${big.shard_id}`, undefined, 200)).binding;
  log(`seeding ${ENTRIES.toLocaleString("en")} entries into ${big.shard_id} …`);
  const started = performance.now();
  await seedEntries(await d1(shard), big.id, ENTRIES);
  const seedMs = performance.now() - started;
  const storage = (await api("GET", `/v1/tenants/${big.id}/limits`, undefined, 200)).storage;
  if (storage?.entries !== ENTRIES) throw new Error(`the shard counts ${storage?.entries} entries, not ${ENTRIES}`);

  const headers = { authorization: `Bearer ${key.secret}` };
  const list = `${baseUrl}/v1/tenants/${big.id}/entries?limit=${PAGE}`;
  // Newest first: page n starts after the (n-1)·PAGE newest entries.
  const deepFirst = ENTRIES - (DEEP_PAGE - 1) * PAGE;
  const expectFirst = (id) => (res) => {
    const first = JSON.parse(res.body).data[0]?.id;
    if (first !== id) throw new Error(`page starts at ${first}, expected ${id}`);
  };
  log(`pagination: page 1 vs page ${DEEP_PAGE}, ${SAMPLES} requests each, alternating`);
  const [page1, pageDeep] = (
    await alternate(
      [
        { url: list, headers, check: expectFirst(entryId(ENTRIES)) },
        {
          url: `${list}&cursor=${encodeCursor(entryId(deepFirst + 1))}`,
          headers,
          check: expectFirst(entryId(deepFirst)),
        },
      ],
      SAMPLES,
    )
  ).map(summarize);

  // Routing: a tenant's gated request, with 100 registered tenants, then with 100,000.
  const small = await api(
    "POST",
    "/v1/tenants",
    { name: "Route", slug: `route-${Date.now().toString(36)}`, tier: "STANDARD" },
    201,
  );
  // The bench measures routing, not the rate limit.
  const limits = { requests_per_minute: 100_000_000, max_concurrency: 10_000, monthly_requests: null };
  await api("PATCH", `/v1/tenants/${small.id}`, { limits }, 200);
  const smallKey = await api("POST", `/v1/tenants/${small.id}/keys`, { name: "route", scopes: ["entries:read"] }, 201);
  const control = await d1("CONTROL_DB");
  const registered = async () => (await control.prepare("SELECT count(*) AS n FROM tenants").first()).n;
  const registryOf = async (size) => {
    await control.prepare("DELETE FROM tenants WHERE slug LIKE 'registry-%'").run();
    await seedTenants(control, size - (await registered()), "d1-shared-1");
    return registered();
  };
  const routed = {
    url: `${baseUrl}/v1/tenants/${small.id}/entries?limit=10`,
    headers: { authorization: `Bearer ${smallKey.secret}` },
  };
  // Small, large, small, large: machine noise hits both sizes alike.
  const byRegistry = { small: [], large: [] };
  const sizes = {};
  for (let round = 1; round <= 2; round++) {
    for (const [name, size] of [
      ["small", 100],
      ["large", TENANTS],
    ]) {
      sizes[name] = await registryOf(size);
      log(`routing with ${sizes[name].toLocaleString("en")} registered tenants (round ${round}/2)`);
      byRegistry[name].push(...(await alternate([routed], SAMPLES / 2))[0]);
    }
  }
  const routeSmall = summarize(byRegistry.small);
  const routeLarge = summarize(byRegistry.large);

  return {
    entries: ENTRIES,
    seedMs,
    pageSize: PAGE,
    deepPage: DEEP_PAGE,
    page1,
    pageDeep,
    pageRatio: pageDeep.p50 / page1.p50,
    tenantsSmall: sizes.small,
    tenantsLarge: sizes.large,
    routeSmall,
    routeLarge,
    routeRatio: routeLarge.p50 / routeSmall.p50,
  };
}
