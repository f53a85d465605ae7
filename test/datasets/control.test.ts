import { env } from "cloudflare:workers";
import { createHash } from "node:crypto";
import { type Column, eq, getTableColumns } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { type CanonicalRow, canonicalJson, copiedColumns, orderKeyOf } from "../../src/datasets/canonical";
import {
  controlRows,
  controlSummary,
  controlVersions,
  ImportRefused,
  importControlRows,
  purgeControlRows,
} from "../../src/datasets/control";
import type { TableDataset } from "../../src/datasets/dataset";
import { datasetsIn } from "../../src/datasets/registry";
import { controlDb } from "../../src/db/client";
import { storeDeadLetter } from "../../src/dead-letters/service";
import { deadLetters } from "../../src/dead-letters/table";
import { outbox } from "../../src/events/outbox-table";
import { reportCircuit } from "../../src/gate/circuit-report";
import { quotaPeriod } from "../../src/gate/quota-period";
import { newId } from "../../src/http/ids";
import { storeSlowQueries } from "../../src/metrics/slow-queries";
import { quotaTrips } from "../../src/quotas/table";
import { METERS } from "../../src/usage/record";
import { aggregateDay, dayOf } from "../../src/usage/store";
import { usageRecords } from "../../src/usage/table";
import { storedFlagOverride } from "../flags/fixture";
import { adminKey, call, createTenant, settled, tenantKey } from "../helpers";
import { startMove, waitForMove } from "../moves/fixture";
import { backedUpAndRestored } from "../restores/fixture";
import { storedStreamTicket } from "../stream/fixture";
import { keepSent, usageSettled } from "../usage/fixture";
import { storedWebhookRows } from "../webhooks/fixture";

const db = controlDb(env);
const DATASETS = datasetsIn("control");
const dataset = (name: string) => DATASETS.find((d) => d.name === name) as TableDataset;

/**
 * What each dataset holds for a tenant, read with plain SQL: its rows in order, every column as
 * D1 returns it (JSON columns as text, secret hashes included).
 */
const ORACLE: Record<string, { sql: string; json: string[]; booleans?: string[] }> = {
  tenant: { sql: "SELECT * FROM tenants WHERE id = ?1", json: ["limit_overrides"] },
  users: { sql: "SELECT * FROM users WHERE tenant_id = ?1 ORDER BY id", json: [] },
  "api-keys": { sql: "SELECT * FROM api_keys WHERE tenant_id = ?1 ORDER BY id", json: ["scopes"] },
  moves: { sql: "SELECT * FROM tenant_moves WHERE tenant_id = ?1 ORDER BY id", json: [] },
  archives: { sql: "SELECT * FROM tenant_archives WHERE tenant_id = ?1 ORDER BY id", json: ["requested_by"] },
  restores: { sql: "SELECT * FROM tenant_restores WHERE tenant_id = ?1 ORDER BY id", json: ["requested_by"] },
  "idempotency-records": {
    sql: "SELECT * FROM idempotency_records WHERE principal IN (SELECT id FROM api_keys WHERE tenant_id = ?1) ORDER BY principal, key",
    json: [],
  },
  outbox: { sql: "SELECT * FROM outbox WHERE tenant_id = ?1 ORDER BY id", json: ["payload"] },
  "event-cursor": { sql: "SELECT * FROM event_cursors WHERE tenant_id = ?1", json: ["ahead"] },
  "dead-letters": { sql: "SELECT * FROM dead_letters WHERE tenant_id = ?1 ORDER BY id", json: ["body"] },
  "metric-minutes": {
    sql: "SELECT * FROM metric_minutes WHERE tenant_id = ?1 ORDER BY minute, tier, series, label",
    json: [],
  },
  "metric-totals": {
    sql: "SELECT * FROM metric_tenant_totals WHERE tenant_id = ?1 ORDER BY tier, series, label",
    json: [],
  },
  "slow-queries": { sql: "SELECT * FROM slow_queries WHERE tenant_id = ?1 ORDER BY id", json: [] },
  "usage-record-ids": { sql: "SELECT * FROM usage_records WHERE tenant_id = ?1 ORDER BY id", json: [] },
  "usage-hours": { sql: "SELECT * FROM usage_hourly WHERE tenant_id = ?1 ORDER BY meter, hour", json: [] },
  "usage-days": { sql: "SELECT * FROM usage_daily WHERE tenant_id = ?1 ORDER BY meter, day", json: [] },
  "quota-trips": { sql: "SELECT * FROM quota_trips WHERE tenant_id = ?1 ORDER BY id", json: [] },
  "circuit-states": { sql: "SELECT * FROM circuit_states WHERE tenant_id = ?1 ORDER BY dependency", json: [] },
  "flag-overrides": { sql: "SELECT * FROM flag_overrides WHERE tenant_id = ?1 ORDER BY flag_key", json: ["config"] },
  "webhook-endpoints": {
    sql: "SELECT * FROM webhook_endpoints WHERE tenant_id = ?1 ORDER BY id",
    json: ["events"],
    booleans: ["enabled"],
  },
  "webhook-messages": { sql: "SELECT * FROM webhook_messages WHERE tenant_id = ?1 ORDER BY id", json: [] },
  "webhook-attempts": { sql: "SELECT * FROM webhook_attempts WHERE tenant_id = ?1 ORDER BY id", json: [] },
  "stream-tickets": { sql: "SELECT * FROM stream_tickets WHERE tenant_id = ?1 ORDER BY id", json: ["types"] },
  "stream-counters": { sql: "SELECT * FROM stream_counters WHERE tenant_id = ?1", json: [] },
};

/** Columns of the stored rows no export holds: the keys' secret hashes, the endpoints' sealed secrets. */
const OMITTED = ["secret_hash", "secret", "previous_secret", "circuit"];

/** What purging `rows` rows two at a time returns, call by call. */
const byTwo = (rows: number) => [...Array(Math.floor(rows / 2)).fill(2), ...(rows % 2 ? [1] : []), 0];

async function stored(name: string, tenantId: string): Promise<Record<string, unknown>[]> {
  const oracle = ORACLE[name];
  if (!oracle) throw new Error(`no oracle for ${name}`);
  const { results } = await env.CONTROL_DB.prepare(oracle.sql).bind(tenantId).all<Record<string, unknown>>();
  return results;
}

/** The stored rows as the canonical form should have them: JSON parsed, booleans as such, secrets gone. */
async function expectedRows(name: string, tenantId: string): Promise<Record<string, unknown>[]> {
  const json = ORACLE[name]?.json ?? [];
  return (await stored(name, tenantId)).map((row) => {
    const copy: Record<string, unknown> = { ...row };
    for (const column of json) copy[column] = JSON.parse(String(copy[column]));
    for (const column of ORACLE[name]?.booleans ?? []) copy[column] = copy[column] === 1;
    for (const column of OMITTED) delete copy[column];
    return copy;
  });
}

/** Every row, `size` at a time, checking each page's bound and that pages follow each other. */
async function readAll(d: TableDataset, tenantId: string, size: number): Promise<CanonicalRow[]> {
  const rows: CanonicalRow[] = [];
  let after: unknown[] | null = null;
  for (;;) {
    const page = await controlRows(db, d, tenantId, after, size);
    expect(page.length).toBeLessThanOrEqual(size);
    rows.push(...page);
    const last = page[page.length - 1];
    if (page.length < size || !last) return rows;
    after = orderKeyOf(d, last);
  }
}

const summaries = async (tenantId: string) =>
  Object.fromEntries(await Promise.all(DATASETS.map(async (d) => [d.name, await controlSummary(db, d, tenantId, 2)])));

let admin: string;
let idempotencyCounter = 0;

type Fixture = {
  tenantId: string;
  userIds: string[];
  keyIds: string[];
  records: [string, string][];
  moveId?: string;
  exportId: string;
  backupId: string;
  restoreId: string;
  deadLetterId: string;
  outboxId: number;
  endpointId: string;
  messageId: string;
  attemptId: string;
  ticketId: string;
};

/**
 * A tenant with rows in every control dataset, made through the API: three users, keys (one a
 * user's, three minted by the tenant's own keys with an Idempotency-Key each), and optionally a
 * finished move. Waits for the asynchronous writes (keys' last use, the move) to land.
 */
async function populate({ move }: { move: boolean }): Promise<Fixture> {
  const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
  await keepSent(tenant.id);
  const userIds: string[] = [];
  for (let i = 0; i < 3; i++) {
    const res = await call(`/v1/tenants/${tenant.id}/users`, {
      method: "POST",
      key: admin,
      body: { email: `user-${crypto.randomUUID()}@example.com`, name: `User ${i}` },
    });
    expect(res.status, res.text).toBe(201);
    userIds.push(res.json.id);
  }
  const owner = await tenantKey(admin, tenant.id);
  const deputy = await tenantKey(admin, tenant.id);
  const userKey = await tenantKey(admin, tenant.id, ["entries:read"], { user_id: userIds[0] });
  const keyIds = [owner.id, deputy.id, userKey.id];
  const records: [string, string][] = [];
  const mint = async (principal: { id: string; secret: string } | null, idempotencyKey: string) => {
    const res = await call(`/v1/tenants/${tenant.id}/keys`, {
      method: "POST",
      key: principal?.secret ?? admin,
      body: { name: "minted", scopes: ["entries:read"] },
      headers: { "Idempotency-Key": idempotencyKey },
    });
    expect(res.status, res.text).toBe(201);
    keyIds.push(res.json.id);
    if (principal) records.push([principal.id, idempotencyKey]);
  };
  await mint(owner, `idem-${idempotencyCounter++}`);
  await mint(owner, `idem-${idempotencyCounter++}`);
  await mint(deputy, `idem-${idempotencyCounter++}`);
  // The platform admin's own record: the admin key's, not the tenant's.
  await mint(null, `idem-${idempotencyCounter++}`);

  let moveId: string | undefined;
  if (move) {
    const started = await startMove(admin, tenant.id, "d1-shared-1");
    expect((await waitForMove(admin, tenant.id, started.id)).state).toBe("completed");
    moveId = started.id;
  }
  // The gate records a key's first use after answering.
  for (let i = 0; ; i++) {
    const row = await env.CONTROL_DB.prepare(
      "SELECT count(*) AS n FROM api_keys WHERE id IN (?, ?) AND last_used_at IS NOT NULL",
    )
      .bind(owner.id, deputy.id)
      .first<{ n: number }>();
    if (row?.n === 2) break;
    if (i > 200) throw new Error("the keys' last use was never recorded");
    await scheduler.wait(10);
  }
  const exportId = await completedExport(tenant.id);
  const { backupId, restoreId } = await backedUpAndRestored(admin, tenant.id);
  // The relay carries the outbox away within moments; one row put there once it is done stays.
  await settled(tenant.id);
  // The keys' requests are in the tenant's metrics and usage once its gate has sent them, and the
  // export's usage once its job has; today's usage so far is aggregated as a day.
  await usageSettled(tenant.id);
  for (let i = 0; !(await db.query.usageRecords.findFirst({ where: eq(usageRecords.id, `use_${exportId}`) })); i++) {
    if (i > 400) throw new Error("the export's usage never arrived");
    await scheduler.wait(25);
  }
  await aggregateDay(db, tenant.id, dayOf(Date.now()), METERS);
  // A quota's trip of the period (its event is another dataset's, the feed's).
  await db.insert(quotaTrips).values({
    id: `${tenant.id}:entries:${quotaPeriod(Date.now()).id}`,
    tenantId: tenant.id,
    quota: "entries",
    period: quotaPeriod(Date.now()).id,
    limit: 10_000,
    trippedAt: Date.now(),
  });
  await reportCircuit(db, tenant.id, "shard", "closed", Date.now());
  await storedFlagOverride(tenant.id);
  const { endpointId, messageId: webhookMessageId, attemptId } = await storedWebhookRows(tenant.id);
  const ticketId = await storedStreamTicket(tenant.id);
  await storeSlowQueries(db, tenant.id, [
    {
      id: newId("slq"),
      shardId: "d1-shared-0",
      at: Date.now(),
      name: "entries.list",
      ms: 812.5,
      failed: 0,
      route: null,
    },
  ]);
  const [held] = await db
    .insert(outbox)
    .values({ tenantId: tenant.id, kind: "event", payload: { type: "tenant.updated" }, createdAt: Date.now() })
    .returning();
  // An event of the tenant's that its queue gave up on, as the dead-letter consumer stores it.
  const messageId = crypto.randomUUID();
  await storeDeadLetter(db, messageId, { id: "evt_x", tenant_id: tenant.id, seq: 1, type: "entry.created" });
  const letter = await db.query.deadLetters.findFirst({ where: eq(deadLetters.messageId, messageId) });
  return {
    tenantId: tenant.id,
    userIds,
    keyIds,
    records,
    moveId,
    exportId,
    backupId,
    restoreId,
    deadLetterId: letter?.id as string,
    outboxId: (held as { id: number }).id,
    endpointId,
    messageId: webhookMessageId,
    attemptId,
    ticketId,
  };
}

/** An export of the tenant, through the API, once completed. */
async function completedExport(tenantId: string): Promise<string> {
  const res = await call(`/v1/tenants/${tenantId}/exports`, { method: "POST", key: admin });
  expect(res.status, res.text).toBe(202);
  for (let i = 0; ; i++) {
    const state = await call(`/v1/tenants/${tenantId}/exports/${res.json.id}`, { key: admin });
    if (state.json.state === "completed") return res.json.id;
    if (i > 400) throw new Error(`the export never completed: ${state.text}`);
    await scheduler.wait(25);
  }
}

let one: Fixture;
let other: Fixture;
beforeAll(async () => {
  admin = await adminKey();
  [one, other] = await Promise.all([populate({ move: true }), populate({ move: true })]);
}, 60_000);

describe("the control datasets' rows", () => {
  it("are checked against a plain-SQL reading of each dataset", () => {
    expect(Object.keys(ORACLE)).toEqual(DATASETS.map((d) => d.name));
  });

  it("stream in order-key order, page by page at any page size, and hold only the tenant's rows", async () => {
    const ids = {
      tenant: [[one.tenantId]],
      users: one.userIds.map((id) => [id]).sort(),
      "api-keys": one.keyIds.map((id) => [id]).sort(),
      moves: [[one.moveId]],
      archives: [[one.backupId], [one.exportId]],
      restores: [[one.restoreId]],
      "idempotency-records": [...one.records].sort(),
      outbox: [[one.outboxId]],
      "event-cursor": [[one.tenantId]],
      "dead-letters": [[one.deadLetterId]],
      "metric-minutes": (await stored("metric-minutes", one.tenantId)).map((r) => [
        r.minute,
        r.tier,
        r.series,
        r.label,
      ]),
      "metric-totals": (await stored("metric-totals", one.tenantId)).map((r) => [r.tier, r.series, r.label]),
      "slow-queries": (await stored("slow-queries", one.tenantId)).map((r) => [r.id]),
      "usage-record-ids": (await stored("usage-record-ids", one.tenantId)).map((r) => [r.id]),
      "usage-hours": (await stored("usage-hours", one.tenantId)).map((r) => [r.meter, r.hour]),
      "usage-days": (await stored("usage-days", one.tenantId)).map((r) => [r.meter, r.day]),
      "quota-trips": [[`${one.tenantId}:entries:${quotaPeriod(Date.now()).id}`]],
      "circuit-states": [["shard"]],
      "flag-overrides": [["dataset-flag"]],
      "webhook-endpoints": [[one.endpointId]],
      "webhook-messages": [[one.messageId]],
      "webhook-attempts": [[one.attemptId]],
      "stream-tickets": [[one.ticketId]],
      "stream-counters": [[one.tenantId]],
    };
    expect(ids["slow-queries"]).toHaveLength(1);
    expect(ids["usage-record-ids"].length).toBeGreaterThanOrEqual(3);
    expect(ids["usage-hours"].map(([meter]) => meter)).toEqual(
      expect.arrayContaining(["api_calls", "egress_bytes", "exports", "stored_bytes"]),
    );
    expect(ids["usage-days"].length).toBeGreaterThanOrEqual(4);
    // The keys' POSTs and their gate decisions, at least.
    expect(ids["metric-totals"]).toEqual([
      ["STANDARD", "gate", "admitted"],
      ["STANDARD", "request", "POST /v1/tenants/:tenantId/keys"],
    ]);
    expect(ids["metric-minutes"].length).toBeGreaterThanOrEqual(2);
    for (const d of DATASETS) {
      const expected = await expectedRows(d.name, one.tenantId);
      const all = await controlRows(db, d, one.tenantId, null, 1000);
      expect(
        all.map((row) => orderKeyOf(d, row)),
        d.name,
      ).toEqual(ids[d.name as keyof typeof ids]);
      expect(all, d.name).toEqual(expected);
      // In the order drizzle declares the columns, which the database may not keep (columns added later).
      const declared = copiedColumns(d, d.tables.sqlite).map(([, column]) => column.name);
      for (const row of all) expect(Object.keys(row), d.name).toEqual(declared);
      for (const size of [1, 2, 3]) expect(await readAll(d, one.tenantId, size), `${d.name} by ${size}`).toEqual(all);
    }
  });

  it("are plain JSON: JSON columns parsed, timestamps as epoch milliseconds, no secret hash", async () => {
    const [tenant] = await controlRows(db, dataset("tenant"), one.tenantId, null, 10);
    expect(tenant?.limit_overrides).toEqual({});
    expect(typeof tenant?.created_at).toBe("number");
    const keys = await controlRows(db, dataset("api-keys"), one.tenantId, null, 10);
    expect(keys).toHaveLength(7);
    for (const key of keys) {
      expect(key).not.toHaveProperty("secret_hash");
      expect(key.tenant_id).toBe(one.tenantId);
    }
    expect(keys.find((key) => key.user_id === one.userIds[0])?.scopes).toEqual(["entries:read"]);
  });

  it("never include another tenant's rows, nor a platform admin's idempotency record", async () => {
    for (const d of DATASETS) {
      const mine = await controlRows(db, d, one.tenantId, null, 1000);
      const theirs = await controlRows(db, d, other.tenantId, null, 1000);
      // Whole rows: an order key is unique among one tenant's rows only (two tenants' metrics of
      // one minute share theirs).
      const rows = new Set(theirs.map((row) => canonicalJson(row)));
      expect(theirs.length, d.name).toBeGreaterThan(0);
      expect(
        mine.filter((row) => rows.has(canonicalJson(row))),
        d.name,
      ).toEqual([]);
    }
    const { results } = await env.CONTROL_DB.prepare("SELECT count(*) AS n FROM idempotency_records").all<{
      n: number;
    }>();
    // Two tenants' three records each, and the admin's one on each tenant.
    expect(results[0]?.n).toBe(8);
  });

  it("give their versions in the same order: the version column, or the canonical row's hash", async () => {
    for (const d of DATASETS) {
      const rows = await controlRows(db, d, one.tenantId, null, 1000);
      const expected = rows.map((row) => ({
        key: orderKeyOf(d, row),
        version: d.version
          ? row[(getTableColumns(d.tables.sqlite)[d.version] as Column).name]
          : createHash("sha256").update(canonicalJson(row)).digest("hex"),
      }));
      expect(await controlVersions(db, d, one.tenantId, null, 1000), d.name).toEqual(expected);
      const paged = [];
      let after: unknown[] | null = null;
      for (;;) {
        const page = await controlVersions(db, d, one.tenantId, after, 2);
        paged.push(...page);
        if (page.length < 2) break;
        after = page[page.length - 1]?.key ?? null;
      }
      expect(paged, d.name).toEqual(expected);
    }
    expect(dataset("users").version).toBe("updatedAt");
    expect(dataset("api-keys").version).toBeUndefined();
  });

  it("sum up to the count and checksum of their rows, whatever the page size", async () => {
    for (const d of DATASETS) {
      const rows = await controlRows(db, d, one.tenantId, null, 1000);
      const hash = createHash("sha256");
      for (const row of rows) hash.update(`${canonicalJson(row)}\n`);
      const summary = { rows: rows.length, checksum: hash.digest("hex") };
      for (const size of [1, 2, 1000]) expect(await controlSummary(db, d, one.tenantId, size), d.name).toEqual(summary);
    }
    expect((await controlSummary(db, dataset("users"), newId("ten"), 10)).rows).toBe(0);
  });
});

describe("a tenant's control data", () => {
  it("is exported, purged and imported back exactly, leaving other tenants alone", async () => {
    const subject = await populate({ move: true });
    const before = await summaries(subject.tenantId);
    const bystander = await summaries(other.tenantId);
    const storedBefore: Record<string, Record<string, unknown>[]> = Object.fromEntries(
      await Promise.all(DATASETS.map(async (d) => [d.name, await stored(d.name, subject.tenantId)])),
    );
    const exported = new Map<string, CanonicalRow[]>();
    for (const d of DATASETS) exported.set(d.name, await readAll(d, subject.tenantId, 2));
    expect([...exported.values()].map((rows) => rows.length)).toEqual([
      1,
      3,
      7,
      1,
      2,
      1,
      3,
      1,
      1,
      1,
      storedBefore["metric-minutes"]?.length,
      2,
      1,
      storedBefore["usage-record-ids"]?.length,
      storedBefore["usage-hours"]?.length,
      storedBefore["usage-days"]?.length,
      1,
      1,
      1,
      1,
      1,
      1,
      1,
      1,
    ]);

    for (const d of [...DATASETS].reverse()) {
      let purged = 0;
      for (;;) {
        const n = await purgeControlRows(db, d, subject.tenantId, 2);
        expect(n).toBeLessThanOrEqual(2);
        if (n === 0) break;
        purged += n;
      }
      expect(purged, d.name).toBe(exported.get(d.name)?.length);
    }
    for (const d of DATASETS) expect(await stored(d.name, subject.tenantId), d.name).toEqual([]);
    expect(await summaries(other.tenantId)).toEqual(bystander);

    // Secret hashes are never exported: the caller brings them, here from before the purge.
    const hashes = new Map((storedBefore["api-keys"] ?? []).map((row) => [row.id, row.secret_hash]));
    const sealed = new Map((storedBefore["webhook-endpoints"] ?? []).map((row) => [row.id, row.secret]));
    const ticketHashes = new Map((storedBefore["stream-tickets"] ?? []).map((row) => [row.id, row.secret_hash]));
    for (const d of DATASETS) {
      let rows = exported.get(d.name) ?? [];
      if (d.name === "api-keys") rows = rows.map((row) => ({ ...row, secret_hash: hashes.get(row.id) as string }));
      if (d.name === "webhook-endpoints") rows = rows.map((row) => ({ ...row, secret: sealed.get(row.id) as string }));
      if (d.name === "stream-tickets") {
        rows = rows.map((row) => ({ ...row, secret_hash: ticketHashes.get(row.id) as string }));
      }
      for (let i = 0; i < rows.length; i += 2) {
        expect(await importControlRows(db, d, subject.tenantId, rows.slice(i, i + 2))).toBe(
          rows.slice(i, i + 2).length,
        );
      }
    }
    expect(await summaries(subject.tenantId)).toEqual(before);
    for (const d of DATASETS) {
      expect(await readAll(d, subject.tenantId, 1000), d.name).toEqual(exported.get(d.name));
      expect(await stored(d.name, subject.tenantId), d.name).toEqual(storedBefore[d.name]);
    }
    expect(await summaries(other.tenantId)).toEqual(bystander);
  }, 60_000);

  it("is purged a bounded number of rows at a time, first rows first, until nothing is left", async () => {
    const subject = await populate({ move: false });
    const metricRows = {
      minutes: (await stored("metric-minutes", subject.tenantId)).length,
      totals: (await stored("metric-totals", subject.tenantId)).length,
      usageIds: (await stored("usage-record-ids", subject.tenantId)).length,
      usageHours: (await stored("usage-hours", subject.tenantId)).length,
      usageDays: (await stored("usage-days", subject.tenantId)).length,
    };
    const counts: Record<string, number[]> = {};
    for (const d of [...DATASETS].reverse()) {
      const all = await controlRows(db, d, subject.tenantId, null, 1000);
      counts[d.name] = [];
      for (;;) {
        const n = await purgeControlRows(db, d, subject.tenantId, 2);
        counts[d.name]?.push(n);
        const purged = (counts[d.name] ?? []).reduce((sum, k) => sum + k, 0);
        expect(await controlRows(db, d, subject.tenantId, null, 1000), d.name).toEqual(all.slice(purged));
        if (n === 0) break;
      }
    }
    expect(counts).toEqual({
      "stream-counters": [1, 0],
      "stream-tickets": [1, 0],
      "webhook-attempts": [1, 0],
      "webhook-messages": [1, 0],
      "webhook-endpoints": [1, 0],
      "flag-overrides": [1, 0],
      "circuit-states": [1, 0],
      "quota-trips": [1, 0],
      "usage-days": byTwo(metricRows.usageDays),
      "usage-hours": byTwo(metricRows.usageHours),
      "usage-record-ids": byTwo(metricRows.usageIds),
      "slow-queries": [1, 0],
      "metric-totals": byTwo(metricRows.totals),
      "metric-minutes": byTwo(metricRows.minutes),
      "dead-letters": [1, 0],
      "event-cursor": [1, 0],
      outbox: [1, 0],
      "idempotency-records": [2, 1, 0],
      restores: [1, 0],
      archives: [2, 0],
      moves: [0],
      "api-keys": [2, 2, 2, 1, 0],
      users: [2, 1, 0],
      tenant: [1, 0],
    });
    for (const d of DATASETS) {
      expect((await controlSummary(db, d, one.tenantId, 100)).rows, d.name).toBeGreaterThan(0);
    }
    await expect(purgeControlRows(db, dataset("users"), subject.tenantId, 0)).rejects.toThrow(RangeError);
  });
});

describe("importing control rows", () => {
  let subject: Fixture;
  beforeAll(async () => {
    subject = await populate({ move: false });
  }, 30_000);

  const rowsOf = (name: string, tenantId: string) => controlRows(db, dataset(name), tenantId, null, 1000);

  it("refuses a row of another tenant, writing none of the rows given with it", async () => {
    const users = dataset("users");
    const [mine] = await rowsOf("users", subject.tenantId);
    const [theirs] = await rowsOf("users", other.tenantId);
    const before = await stored("users", subject.tenantId);
    const renamed = { ...(mine as CanonicalRow), name: "Renamed" };
    await expect(importControlRows(db, users, subject.tenantId, [renamed, theirs as CanonicalRow])).rejects.toThrow(
      new ImportRefused(`a row of users belongs to ${other.tenantId}`),
    );
    expect(await stored("users", subject.tenantId)).toEqual(before);

    const [theirTenant] = await rowsOf("tenant", other.tenantId);
    await expect(
      importControlRows(db, dataset("tenant"), subject.tenantId, [theirTenant as CanonicalRow]),
    ).rejects.toThrow(ImportRefused);
  });

  it("refuses a row of the tenant's that carries the key of another tenant's row, which stays theirs", async () => {
    const [theirs] = await rowsOf("users", other.tenantId);
    const before = await stored("users", other.tenantId);
    const claimed = { ...(theirs as CanonicalRow), tenant_id: subject.tenantId, name: "Taken" };
    await expect(importControlRows(db, dataset("users"), subject.tenantId, [claimed])).rejects.toThrow(
      new ImportRefused("a row of users has the key of another tenant's row"),
    );
    expect(await stored("users", other.tenantId)).toEqual(before);
  });

  it("refuses another tenant's idempotency record, which names its tenant only through its key", async () => {
    const records = dataset("idempotency-records");
    const mine = await rowsOf("idempotency-records", subject.tenantId);
    const [theirs] = await rowsOf("idempotency-records", other.tenantId);
    await expect(importControlRows(db, records, subject.tenantId, [...mine, theirs as CanonicalRow])).rejects.toThrow(
      new ImportRefused(`row ${mine.length} of idempotency-records is not the tenant's`),
    );
    // The tenant's own are written back as they are.
    const before = await stored("idempotency-records", subject.tenantId);
    expect(await importControlRows(db, records, subject.tenantId, mine)).toBe(3);
    expect(await stored("idempotency-records", subject.tenantId)).toEqual(before);
  });

  it("refuses API keys without their secret hashes, which no export holds", async () => {
    const keys = await rowsOf("api-keys", subject.tenantId);
    await expect(importControlRows(db, dataset("api-keys"), subject.tenantId, keys)).rejects.toThrow(
      new ImportRefused("api-keys cannot be imported without secret_hash, which no export holds"),
    );
    const [first, second] = keys as CanonicalRow[];
    await expect(
      importControlRows(db, dataset("api-keys"), subject.tenantId, [
        { ...(first as CanonicalRow), secret_hash: "0".repeat(64) },
        second as CanonicalRow,
      ]),
    ).rejects.toThrow(new ImportRefused("secret_hash is given for some rows of api-keys, not all"));
  });

  it("refuses a row that lacks a column or has one the table does not", async () => {
    const [user] = (await rowsOf("users", subject.tenantId)) as CanonicalRow[];
    const { name: _, ...nameless } = user as CanonicalRow;
    await expect(importControlRows(db, dataset("users"), subject.tenantId, [nameless])).rejects.toThrow(
      new ImportRefused("a row of users lacks name"),
    );
    await expect(
      importControlRows(db, dataset("users"), subject.tenantId, [{ ...(user as CanonicalRow), nickname: "x" }]),
    ).rejects.toThrow(new ImportRefused("users has no column nickname"));
  });

  it("overwrites a row with the same key exactly as given, timestamps included", async () => {
    const [user] = (await rowsOf("users", subject.tenantId)) as CanonicalRow[];
    const changed = { ...(user as CanonicalRow), name: "Imported", role: "READ_ONLY", updated_at: 1_234 };
    expect(await importControlRows(db, dataset("users"), subject.tenantId, [changed])).toBe(1);
    expect((await rowsOf("users", subject.tenantId))[0]).toEqual(changed);
  });

  it("writes more rows at once than one statement's parameters allow, atomically", async () => {
    const [template] = (await rowsOf("users", other.tenantId)) as CanonicalRow[];
    const fresh = await createTenant(admin);
    const many = Array.from({ length: 30 }, (_, i) => ({
      ...(template as CanonicalRow),
      id: newId("usr"),
      tenant_id: fresh.id,
      email: `bulk-${i}-${crypto.randomUUID()}@example.com`,
    })).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(await importControlRows(db, dataset("users"), fresh.id, many)).toBe(30);
    expect(await rowsOf("users", fresh.id)).toEqual(many);

    // A duplicate email in the last statement fails the whole batch.
    const more: CanonicalRow[] = many.map((row) => ({ ...row, id: newId("usr"), email: `again-${row.email}` }));
    more[29] = { ...(more[29] as CanonicalRow), email: many[0]?.email as string };
    await expect(importControlRows(db, dataset("users"), fresh.id, more)).rejects.toThrow();
    expect(await rowsOf("users", fresh.id)).toEqual(many);
  });
});
