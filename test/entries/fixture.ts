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

let pinnedShard: string | undefined;

/**
 * Runs this file's entries tests against one shard: the behaviour suite (test/entries/behaviour/)
 * runs once per engine, each run pinning its tenants to a shard of that engine.
 */
export function onShard(shardId: string) {
  pinnedShard = shardId;
}

/** Creates a tenant on the pinned shard (if any), otherwise wherever placement puts it. */
export const tenantOnShard = (admin: string, overrides: Record<string, unknown> = {}) =>
  createTenant(admin, { ...(pinnedShard ? { shard_id: pinnedShard } : {}), ...overrides });

/** A fresh ACTIVE tenant, a key holding entries:read and entries:write, and request helpers. */
export async function entriesFixture() {
  const admin = await adminKey();
  const tenant = await tenantOnShard(admin);
  expect(tenant.status, JSON.stringify(tenant)).toBe("ACTIVE");
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
