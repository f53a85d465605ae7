import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import type { LimitsView } from "../../src/gate/protocol";
import type { Scope } from "../../src/keys/scopes";
import { call, createTenant, settled as relayed, tenantKey } from "../helpers";

export type Limits = { requests_per_minute?: number; max_concurrency?: number; monthly_requests?: number | null };

/** A tenant with the given limit overrides and a key with every scope. */
/** A tenant with the given limit overrides; `placement` pins its shard (e.g. `{ shard_id }`). */
export async function limitedTenant(
  admin: string,
  limits: Limits,
  tier = "STANDARD",
  placement: { shard_id?: string } = {},
) {
  const tenant = await createTenant(admin, { tier, ...placement });
  const patched = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { limits } });
  if (patched.status !== 200) throw new Error(`limits not set: ${patched.status} ${patched.text}`);
  const key = await tenantKey(admin, tenant.id);
  return { tenant, key: key.secret, keyId: key.id };
}

export async function keyFor(admin: string, tenantId: string, extra: Record<string, unknown> = {}) {
  const scopes: Scope[] = ["entries:read", "entries:write", "tenant:admin"];
  return (await tenantKey(admin, tenantId, scopes, extra)).secret;
}

/** The tenant's limits as the operator view reports them. */
export async function limitsOf(admin: string, tenantId: string): Promise<LimitsView & { storage: any }> {
  const res = await call(`/v1/tenants/${tenantId}/limits`, { key: admin });
  if (res.status !== 200) throw new Error(`limits: ${res.status} ${res.text}`);
  return res.json;
}

/** Waits until every release has reached the gate (releases are sent after the response). */
/**
 * Waits until the tenant's gate holds no request in flight and the event relay, which passes the
 * gate as a data write after each mutating request, has finished with the tenant too.
 */
export async function settled(admin: string, tenantId: string) {
  await relayed(tenantId);
  for (let i = 0; i < 200; i++) {
    const idle = (await limitsOf(admin, tenantId)).concurrency.in_flight === 0;
    const relaying = await runInDurableObject(
      gateStub(tenantId),
      (_, ctx) => ctx.storage.sql.exec<{ n: number }>("SELECT count(*) AS n FROM admin_writes").one().n,
    );
    if (idle && relaying === 0) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("requests stayed in flight");
}

/**
 * Moves the clock of this isolate, which the tenant gates share in the test runtime, so window
 * rollover, lease expiry, open circuits and month ends can be reached without waiting.
 */
export function travel(ms: number) {
  const now = Date.now();
  vi.useFakeTimers({ toFake: ["Date"] });
  vi.setSystemTime(now + ms);
}

export const gateStub = (tenantId: string) => env.TENANT_GATE.get(env.TENANT_GATE.idFromName(tenantId));

/** Parses `"name";k=v;k=v, …` structured-field lists into { name: { k: v } }. */
export function parseList(value: string | null): Record<string, Record<string, string>> {
  const result: Record<string, Record<string, string>> = {};
  for (const item of (value ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [name, ...params] = item.split(";");
    result[JSON.parse(name as string)] = Object.fromEntries(params.map((p) => p.split("=") as [string, string]));
  }
  return result;
}
