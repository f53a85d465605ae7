import { expect } from "vitest";
import { call, createTenant, tenantKey } from "../helpers";

/** A tenant with `entries` entries written through the API, and a key of every scope. */
export async function tenantWithEntries(admin: string, entries: number, overrides: Record<string, unknown> = {}) {
  const tenant = await createTenant(admin, overrides);
  const key = await tenantKey(admin, tenant.id);
  for (let i = 0; i < entries; i++) {
    const res = await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key: key.secret,
      body: { data: { i } },
    });
    expect(res.status, res.text).toBe(201);
  }
  return { tenant, key };
}

/** Polls an export's or a backup's resource until it is completed or failed. */
export async function waitForArchive<T extends { state: string }>(
  path: string,
  key: string,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await call(path, { key });
    expect(res.status, res.text).toBe(200);
    if (res.json.state === "completed" || res.json.state === "failed") return res.json;
    if (Date.now() > deadline) throw new Error(`${path} still ${res.json.state}: ${res.text}`);
    await scheduler.wait(50);
  }
}
