import { expect } from "vitest";
import { adminKey, type Call, call, createTenant, tenantKey } from "../helpers";

export type Entry = {
  id: string;
  data: Record<string, unknown>;
  tags: string[];
  version: number;
  size_bytes: number;
  created_at: string;
  updated_at: string;
};
export type Page = { data: Entry[]; next_cursor: string | null };

/** A fresh ACTIVE tenant, a key holding entries:read and entries:write, and request helpers. */
export async function entriesFixture() {
  const admin = await adminKey();
  const tenant = await createTenant(admin);
  const { secret } = await tenantKey(admin, tenant.id, ["entries:read", "entries:write"]);
  const base = `/v1/tenants/${tenant.id}/entries`;
  const send = (path: string, options: Call = {}) => call(`${base}${path}`, { key: secret, ...options });
  const create = async (body: unknown) => {
    const res = await send("", { method: "POST", body });
    expect(res.status, res.text).toBe(201);
    return res.json as Entry;
  };
  return { admin, tenant, key: secret, base, send, create };
}
