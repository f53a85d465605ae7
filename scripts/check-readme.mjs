// `npm run test:readme`: starts the platform as `npm start` does and runs the README walk-through
// block verbatim, checking the outcomes it promises.
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

const root = new URL("..", import.meta.url).pathname;
const readme = readFileSync(new URL("../README.md", import.meta.url), "utf8");
const block = /<!-- walkthrough:start -->\s*```sh\n([\s\S]*?)```\s*<!-- walkthrough:end -->/.exec(readme)?.[1];
if (!block) throw new Error("README has no walkthrough block");

const server = spawn(process.execPath, ["scripts/start.mjs"], {
  cwd: root,
  detached: true,
  stdio: ["ignore", "pipe", "pipe"],
});
let log = "";
server.stdout.on("data", (d) => (log += d));
server.stderr.on("data", (d) => (log += d));
const stop = () => {
  try {
    process.kill(-server.pid, "SIGTERM");
  } catch {}
};
process.on("exit", stop);

async function waitUntilReady(deadline = Date.now() + 120_000) {
  while (Date.now() < deadline) {
    if (server.exitCode !== null) throw new Error(`npm start exited early:\n${log}`);
    try {
      if ((await fetch("http://localhost:8787/")).ok) return;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`platform did not start:\n${log}`);
}

await waitUntilReady();
if (!/^Dev admin key: etk_\S+$/m.test(log)) throw new Error(`npm start printed no dev admin key:\n${log}`);

const run = spawnSync("bash", ["-euo", "pipefail", "-c", block], { cwd: root, encoding: "utf8" });
console.log(run.stdout);
const expectations = [
  [/"kind": "tenant"/, "GET /v1/me answered for the tenant key"],
  [/"version": 1/, "an entry was created"],
  [/"second",\s*"first"/, "entries listed newest first"],
  [/"version": 2/, "If-Match replace succeeded"],
  [/"status": 412/, "stale If-Match got 412"],
  [/^RateLimit-Policy: "tenant";q=600;w=60/im, "a tenant key's response carries its RateLimit-Policy"],
  [/"in_flight": \d+/, "GET …/limits reports the tenant's limits"],
  [/"engine": "postgres"/, "GET /v1/shards lists the PostgreSQL shard"],
  [/"shard_id": "d1-shared-0",\s*"applied": \[\],/, "POST /v1/shards/migrate found the D1 shards up to date"],
  [/"shard_id": "pg-0",\s*"applied": \[\],/, "POST /v1/shards/migrate found the PostgreSQL shard up to date"],
  [/"status": 400,\s*"paths": \[[^\]]*"body\.data\.title"/, "a NUL character was refused, naming body.data.title"],
  [/"body\.data\.ids\.0"/, "an integer past 2^53 was refused, naming body.data.ids.0"],
  [/^cache-control: no-store/im, "an entry's response is Cache-Control: no-store"],
  [/^vary: .*authorization/im, "an entry's response varies by Authorization"],
  [/^\/docs\/assets\/[0-9a-f]{16}\/swagger-ui-bundle\.js$/m, "/docs loads Swagger UI from the Worker"],
  [/^(401 ){10}429 $/m, "the 11th wrong secret in a minute was throttled"],
  [/"ok": true/, "the right secret still worked"],
  [
    /"x-required-scope": "entries:write",\s*"x-shard": "write",\s*"x-audit-action": "entry.replaced"/,
    "the OpenAPI document shows a route's metadata",
  ],
  [/"types": \[[^\]]*"entry\.created"[^\]]*"entry\.replaced"/, "the feed holds the entry events"],
  [/"delivered_through": \d+/, "the events queue's consumer reports its cursor"],
  [/"action": "entry\.replaced",\s*"status": 412/, "the refused replace is in the audit trail"],
  [/"ok": true,\s*"checked": \d+,\s*"broken": null/, "the tenant's audit chain verifies"],
  [/^ok: \d+ records linked through seq \d+/m, "the export verifies offline"],
  [/^content-type: application\/zip/im, "the export's link serves a ZIP"],
  [/^content-disposition: attachment; filename="acme-\d+-export-\d{4}-\d{2}-\d{2}\.zip"/im, "with a file name"],
  [/^ok: export exp_\w+ of tenant ten_\w+ \(acme-\d+\), format 1, \d+ files, \d+ rows/m, "the export verifies offline"],
  [/^changed link: 403$/m, "a changed link is refused"],
  [/"status": "DELETED",\s*"purge_after": "\S+"/, "DELETE soft-deletes the tenant, with a purge date"],
  [/"status": 401,\s*"type": "\S+\/invalid-api-key"/, "the deleted tenant's key is refused"],
  [/"status": 410,\s*"purge_after": "\S+"/, "a platform admin gets 410 with the purge date"],
  [/"restored": "ACTIVE"/, "the tenant is restored"],
  [/"second, edited",\s*"first"/, "its entries are back"],
  [/"restore": "completed",\s*"rows_changed": 1/, "the backup is restored in place, one entry changed"],
  [/"after_restore": \[\s*"second, edited",\s*"first"\s*\]/, "the entries are as backed up"],
  [/"clone": \[\s*"second, edited",\s*"first"\s*\]/, "the clone holds the tenant's entries"],
  [
    /"requests": [1-9]\d*,\s*"error_rate": [\d.]+,\s*"p99_ms": [\d.]+,\s*"admitted": [1-9]\d*,\s*"top_route": "\/v1\/[^"]*"/,
    "the tenant's metrics count its requests by route template",
  ],
  [
    /^edge_tenancy_platform_requests_total\{class="2xx"\} [1-9]\d*$/m,
    "GET /metrics serves the platform's request counter",
  ],
  [/"meter": "api_calls",\s*"kind": "counter",\s*"quantity": [1-9]\d*/, "the tenant's usage counts its API calls"],
  [/"meter": "stored_bytes",\s*"kind": "gauge",\s*"quantity": [1-9][\d.]*/, "and its stored bytes as a gauge"],
  [
    /"currency": "usd",\s*"lines": \[\s*\{\s*"type": "base",\s*"meter": null,\s*"quantity": null,\s*"amount": 2900/,
    "the invoice preview starts with Standard's base price",
  ],
  [
    /"quota": "monthly_requests",\s*"percent": [\d.]+,\s*"exceeded": false/,
    "the invoice preview shows the monthly quota",
  ],
  [/^\{"status":"UP"\}$/m, "GET /health answers UP"],
  [/^\{"ready":"UP","control_db":"UP","queue":"UP"\}$/m, "GET /health/ready checks the database and the queue"],
  [
    /"status": "(UP|DEGRADED)",\s*"reasons": \[[^\]]*\],\s*"active": [1-9]\d*/,
    "GET /v1/health/tenants reports the tenants",
  ],
  [/"slow_calls": \d+/, "GET /v1/shards/:id/slow-queries lists the shard's slow calls"],
  [/^25 %: false false true true true false$/m, "a 25 % rollout puts Unleash's buckets of the subjects in"],
  [/^50 %: true false true true true false$/m, "raising the rollout to 50 % only added subjects"],
  [/^\{"subject":"user-3","value":true,"reason":"SPLIT"/m, "OpenFeature's OFREP provider evaluated the flag"],
  [
    /^\{"subject":"user-2","value":false,"reason":"DEFAULT"/m,
    "OpenFeature's OFREP provider got the default outside the rollout",
  ],
  [/"override":\{"enabled":false\}/, "the tenant set its kill switch"],
  [/"value":false,"reason":"DISABLED"/, "OFREP answers DISABLED once the tenant's kill switch is set"],
  [/^\{"id":"whk_\w+","events":\["entry\.\*"\],"enabled":true,"secret":"whsec_"\}$/m, "a webhook endpoint was created"],
  [
    /^verified entry\.created evt_\w+ \{"title":"hooked"\}$/m,
    "the receiver verified the delivery with the official library",
  ],
  [
    /^\{"event_type":"entry\.created","status":"delivered","attempts":1,"last_status_code":204\}$/m,
    "the message is delivered",
  ],
  [
    /"status":422,"type":"\S+\/webhook-target-refused","detail":"\S+ cannot receive webhooks: 169\.254\.169\.254 is link-local/,
    "the guard refused the metadata address",
  ],
  [/^ready from evt_\w+$/m, "the stream client connected with a ticket"],
  [
    /^entry\.created entry\/ent_\w+ seq \d+\nentry\.created entry\/ent_\w+ seq \d+$/m,
    "the stream client got both entries' events, in order",
  ],
  [/^\{"active":0,"opened":1,"limit":25\}$/m, "the stream's counters"],
];
const failed = expectations.filter(([pattern]) => !pattern.test(run.stdout));
if (run.status !== 0 || failed.length > 0) {
  console.error(run.stderr);
  for (const [, what] of failed) console.error(`missing: ${what}`);
  console.error("README walk-through: FAILED");
  process.exit(1);
}
console.log(`README walk-through: ${expectations.length} checks passed`);
stop();
process.exit(0);
