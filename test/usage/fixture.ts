import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect } from "vitest";
import type { UsageRecord } from "../../src/usage/record";
import { gateStub } from "../gate/fixture";
import { call } from "../helpers";

/**
 * Has the tenant's gate keep a copy of every usage record it sends (a trigger on its outbox), so a
 * test can see what was sent, wait for the consumer to have it, and send it again.
 */
export async function keepSent(tenantId: string) {
  await runInDurableObject(gateStub(tenantId), (_, state) => {
    state.storage.sql.exec(`
      CREATE TABLE IF NOT EXISTS sent_copy (seq INTEGER PRIMARY KEY, kind TEXT, body TEXT);
      CREATE TRIGGER IF NOT EXISTS keep_sent AFTER DELETE ON telemetry_outbox
      BEGIN INSERT OR IGNORE INTO sent_copy VALUES (old.seq, old.kind, old.body); END;`);
  });
}

/** The usage records the gate has sent so far (see keepSent). */
export const sentUsage = (tenantId: string) =>
  runInDurableObject(gateStub(tenantId), (_, state) =>
    state.storage.sql
      .exec<{ body: string }>("SELECT body FROM sent_copy WHERE kind = 'usage' ORDER BY seq")
      .toArray()
      .map((row) => JSON.parse(row.body) as UsageRecord),
  );

/** Puts records back in the gate's outbox, as if it had never learnt they were sent. */
export const unsend = (tenantId: string, records: UsageRecord[]) =>
  runInDurableObject(gateStub(tenantId), (_, state) => {
    for (const record of records) {
      state.storage.sql.exec("INSERT INTO telemetry_outbox (kind, body) VALUES ('usage', ?)", JSON.stringify(record));
    }
  });

/** Has the gate send everything (after this isolate's deferred releases), then waits until the consumer applied all it sent. */
export async function usageSettled(tenantId: string, timeoutMs = 10_000) {
  await scheduler.wait(60);
  await gateStub(tenantId).flushMetrics();
  const ids = (await sentUsage(tenantId)).map((record) => record.id);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { results } = await env.CONTROL_DB.prepare("SELECT id FROM usage_records WHERE tenant_id = ?")
      .bind(tenantId)
      .all<{ id: string }>();
    const applied = new Set(results.map((row) => row.id));
    const missing = ids.filter((id) => !applied.has(id));
    if (missing.length === 0) return ids;
    if (Date.now() > deadline) throw new Error(`usage of ${tenantId} not applied: ${missing.join(", ")}`);
    await scheduler.wait(20);
  }
}

/** The tenant's usage as the route answers it, by meter. */
export async function usageOf(tenantId: string, key: string, query = "granularity=month") {
  const res = await call(`/v1/tenants/${tenantId}/usage?${query}`, { key });
  expect(res.status, res.text).toBe(200);
  return Object.fromEntries(res.json.meters.map((m: { meter: string }) => [m.meter, m])) as Record<string, any>;
}
