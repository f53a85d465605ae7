import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { keyFor, limitsOf } from "../../gate/fixture";
import { adminKey, call, expectProblem } from "../../helpers";
import { tenantOnShard } from "../fixture";

let admin: string;

async function tinyTenant() {
  const tenant = await tenantOnShard(admin, { tier: "TINY" });
  const key = await keyFor(admin, tenant.id);
  const entries = `/v1/tenants/${tenant.id}/entries`;
  const create = (data: Record<string, unknown>) => call(entries, { method: "POST", key, body: { data, tags: [] } });
  return { tenant, key, entries, create };
}

/** Entry-count and stored-byte quotas, enforced by the shard in the write's own transaction. */
export function storageQuotaBehaviour() {
  beforeAll(async () => {
    admin = await adminKey();
    // A plan small enough to fill: 3 entries, 100 bytes of entry data.
    await env.CONTROL_DB.exec(
      "INSERT OR IGNORE INTO plans (tier, name, rate_limit_per_minute, max_concurrency, monthly_requests, max_entries, max_storage_bytes, created_at) VALUES ('TINY', 'Tiny', 1000, 100, NULL, 3, 100, 0)",
    );
  });

  describe("storage quotas", () => {
    it("refuses the entry past the plan's max_entries with 403 storage-quota-exceeded, and a delete makes room", async () => {
      const { tenant, key, entries, create } = await tinyTenant();
      const made = [];
      for (let i = 0; i < 3; i++) made.push(await create({ i }));
      expect(made.map((r) => r.status)).toEqual([201, 201, 201]);
      const refused = await create({ i: 3 });
      expectProblem(refused, 403, "storage-quota-exceeded");
      expect(refused.json).toMatchObject({ quota: "entries", limit: 3 });

      expect((await call(`${entries}/${made[0]?.json.id}`, { method: "DELETE", key })).status).toBe(204);
      expect((await create({ i: 4 })).status).toBe(201);
      expect((await limitsOf(admin, tenant.id)).storage).toMatchObject({ entries: 3, max_entries: 3 });
    });

    it("is exact under concurrent writes", async () => {
      const { tenant, create } = await tinyTenant();
      const results = await Promise.all(Array.from({ length: 12 }, (_, i) => create({ i })));
      expect(results.filter((r) => r.status === 201)).toHaveLength(3);
      for (const res of results.filter((r) => r.status !== 201)) expectProblem(res, 403, "storage-quota-exceeded");
      expect((await limitsOf(admin, tenant.id)).storage.entries).toBe(3);
    });

    it("counts stored bytes on create and replace, refusing growth past max_storage_bytes but not shrinking", async () => {
      const { tenant, key, entries, create } = await tinyTenant();
      const big = await create({ text: "x".repeat(70) }); // {"text":"xxx…"} = 81 bytes
      expect(big.status).toBe(201);
      const tooBig = await create({ text: "y".repeat(20) }); // 31 more: 112 > 100
      expectProblem(tooBig, 403, "storage-quota-exceeded");
      expect(tooBig.json).toMatchObject({ quota: "stored_bytes", limit: 100 });

      const entry = `${entries}/${big.json.id}`;
      const grow = await call(entry, { method: "PUT", key, body: { data: { text: "x".repeat(95) }, tags: [] } });
      expectProblem(grow, 403, "storage-quota-exceeded");
      const shrink = await call(entry, { method: "PUT", key, body: { data: { t: 1 }, tags: [] } });
      expect(shrink.status).toBe(200);
      expect((await limitsOf(admin, tenant.id)).storage).toMatchObject({
        entries: 1,
        stored_bytes: new TextEncoder().encode(JSON.stringify({ t: 1 })).byteLength,
        max_stored_bytes: 100,
      });
    });

    it("lets a tenant over a lowered quota delete and shrink, never grow", async () => {
      const { tenant, key, entries, create } = await tinyTenant();
      const made = [await create({ a: 1 }), await create({ b: 2 })];
      await env.CONTROL_DB.prepare("UPDATE plans SET max_entries = 1 WHERE tier = 'TINY'").run();
      try {
        await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { name: "changed" } });
        expectProblem(await create({ c: 3 }), 403, "storage-quota-exceeded");
        expect((await call(`${entries}/${made[0]?.json.id}`, { method: "DELETE", key })).status).toBe(204);
        expectProblem(await create({ c: 3 }), 403, "storage-quota-exceeded");
      } finally {
        await env.CONTROL_DB.prepare("UPDATE plans SET max_entries = 3 WHERE tier = 'TINY'").run();
      }
    });
  });
}
