import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/app";
import { objectKeyOf } from "../../src/archives/service";
import { tenantArchives } from "../../src/archives/table";
import { systemActor } from "../../src/auth/actor";
import { controlDb } from "../../src/db/client";
import { newId } from "../../src/http/ids";
import { tenantMoves } from "../../src/moves/table";
import { tenantRestores } from "../../src/restores/table";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

/**
 * Walks the app's own route table, so a tenant-scoped route added later is probed without anyone
 * remembering to add it here. A route with a path parameter this file has no fixture for fails.
 * The /v1 routes only: a download link (/downloads) takes no key, its signature covers its path
 * (test/exports/routes.test.ts probes it with other tenants' paths and ids). Nor the stream's
 * WebSocket, which takes a ticket, not a key: a ticket opens its own tenant's stream alone
 * (test/stream/routes.test.ts, and below).
 */
const tenantScoped = createApp()
  .routes.filter(
    (r) =>
      r.method !== "ALL" &&
      r.path.startsWith("/v1/") &&
      r.path.includes(":tenantId") &&
      !(r.method === "GET" && r.path.replace(/\/$/, "").endsWith("/stream")),
  )
  .map((r) => ({ method: r.method, path: r.path.replace(/\/$/, "") }))
  .filter((r, i, all) => all.findIndex((o) => o.method === r.method && o.path === r.path) === i);

type Fixture = { tenantId: string; key: string; ids: Record<string, string> };

async function tenantWithData(admin: string): Promise<Fixture> {
  const tenant = await createTenant(admin);
  const key = await tenantKey(admin, tenant.id);
  const user = await call(`/v1/tenants/${tenant.id}/users`, {
    method: "POST",
    key: admin,
    body: { email: `owner-${tenant.id.slice(-8).toLowerCase()}@example.com`, role: "TENANT_ADMIN" },
  });
  const entry = await call(`/v1/tenants/${tenant.id}/entries`, {
    method: "POST",
    key: key.secret,
    body: { data: { secret: tenant.id }, tags: ["private"] },
  });
  expect([user.status, entry.status]).toEqual([201, 201]);
  // A finished move on record, as an operator's earlier move leaves one.
  const moveId = newId("mov");
  await controlDb(env)
    .insert(tenantMoves)
    .values({
      id: moveId,
      tenantId: tenant.id,
      sourceShardId: "d1-shared-1",
      targetShardId: tenant.shard_id as string,
      state: "completed",
      createdAt: Date.now(),
      updatedAt: Date.now(),
    });
  // A finished export and backup on record.
  const archived = async (kind: "export" | "backup") => {
    const id = newId(kind === "export" ? "exp" : "bak");
    await controlDb(env)
      .insert(tenantArchives)
      .values({
        id,
        tenantId: tenant.id,
        kind,
        state: "completed",
        objectKey: objectKeyOf(kind, tenant.id, id),
        requestedBy: systemActor("test"),
        createdAt: Date.now(),
        updatedAt: Date.now(),
        completedAt: Date.now(),
      });
    return id;
  };
  const exportId = await archived("export");
  const backupId = await archived("backup");
  // And a finished restore from that backup.
  const restoreId = newId("rst");
  await controlDb(env)
    .insert(tenantRestores)
    .values({
      id: restoreId,
      kind: "restore",
      tenantId: tenant.id,
      targetTenantId: tenant.id,
      state: "completed",
      archiveId: backupId,
      requestedBy: systemActor("test"),
      createdAt: Date.now(),
      updatedAt: Date.now(),
      completedAt: Date.now(),
    });
  // A platform flag the tenant overrides.
  const flagKey = `isolated-${tenant.id.slice(-10).toLowerCase()}`;
  const flag = await call("/v1/flags", {
    method: "POST",
    key: admin,
    body: { key: flagKey, type: "boolean", default_value: false },
  });
  const override = await call(`/v1/tenants/${tenant.id}/flags/${flagKey}`, {
    method: "PUT",
    key: key.secret,
    body: { enabled: false },
  });
  expect([flag.status, override.status]).toEqual([201, 200]);
  // A webhook endpoint with one message (a test event).
  const endpoint = await call(`/v1/tenants/${tenant.id}/webhooks`, {
    method: "POST",
    key: key.secret,
    body: { url: "http://127.0.0.1:9/hook", events: ["entry.*"] },
  });
  const message = await call(`/v1/tenants/${tenant.id}/webhooks/${endpoint.json.id}/test`, {
    method: "POST",
    key: key.secret,
  });
  expect([endpoint.status, message.status]).toEqual([201, 202]);
  return {
    tenantId: tenant.id,
    key: key.secret,
    ids: {
      userId: user.json.id,
      keyId: key.id,
      entryId: entry.json.id,
      moveId,
      exportId,
      backupId,
      restoreId,
      flagKey,
      endpointId: endpoint.json.id,
      messageId: message.json.id,
    },
  };
}

/** A body the route would accept, so the 404 cannot come from validation failing first. */
const validBodies: Record<string, unknown> = {
  entries: { data: { x: 1 }, tags: [] },
  users: { role: "MEMBER" },
  webhooks: { enabled: false },
  recover: { since: "2026-01-01T00:00:00Z" },
};

function fill(path: string, tenantId: string, ids: Record<string, string>) {
  return path.replace(/:(\w+)/g, (_, name: string) => {
    if (name === "tenantId") return tenantId;
    const id = ids[name];
    if (!id) throw new Error(`No isolation fixture for :${name} in ${path}; add one to tenantWithData()`);
    return id;
  });
}

describe("tenant isolation", () => {
  let a: Fixture;
  let b: Fixture;
  let admin: string;

  beforeAll(async () => {
    admin = await adminKey();
    [a, b] = [await tenantWithData(admin), await tenantWithData(admin)];
  });

  it("finds the tenant-scoped routes in the route table", () => {
    const paths = tenantScoped.map((r) => `${r.method} ${r.path}`);
    expect(paths).toContain("GET /v1/tenants/:tenantId/entries/:entryId");
    expect(paths).toContain("DELETE /v1/tenants/:tenantId/keys/:keyId");
    expect(paths).toContain("PATCH /v1/tenants/:tenantId/users/:userId");
    expect(paths).toContain("GET /v1/tenants/:tenantId/events");
    expect(paths).toContain("GET /v1/tenants/:tenantId/audit");
    expect(paths).toContain("GET /v1/tenants/:tenantId/audit/verify");
    expect(paths).toContain("GET /v1/tenants/:tenantId/audit/export");
    expect(paths).toContain("GET /v1/tenants/:tenantId/exports/:exportId");
    expect(paths).toContain("POST /v1/tenants/:tenantId/backups/:backupId/validate");
    expect(tenantScoped.length).toBeGreaterThanOrEqual(17);
  });

  it.each(tenantScoped)("$method $path answers 404 to another tenant's key", async ({ method, path }) => {
    const res = await call(fill(path, b.tenantId, b.ids), {
      method,
      key: a.key,
      body: method === "GET" || method === "DELETE" ? undefined : {},
    });
    expectProblem(res, 404, "not-found");
  });

  // A flag key names a platform flag every tenant sees, not a tenant's resource: another tenant's
  // override of it stays out of the tenant's view (asserted below), but the flag answers 200.
  const withResource = tenantScoped.filter((r) => /:(?!tenantId)\w+/.test(r.path) && !r.path.includes(":flagKey"));
  const bodyFor = (method: string, path: string) =>
    method === "GET" || method === "DELETE"
      ? undefined
      : (validBodies[path.split("/").at(-1) as string] ?? validBodies[path.split("/").at(-2) as string]);

  it.each(withResource)(
    "$method $path answers 404 when the caller's own tenant path names another tenant's resource",
    async ({ method, path }) => {
      const res = await call(fill(path, a.tenantId, b.ids), { method, key: a.key, body: bodyFor(method, path) });
      // Routes for platform admins only refuse a tenant key before looking anything up.
      if (res.status === 403) expectProblem(res, 403, "forbidden");
      else expectProblem(res, 404, "not-found");
    },
  );

  it.each(withResource)(
    "$method $path answers 404 to a platform admin whose tenant path and resource do not belong together",
    async ({ method, path }) => {
      const res = await call(fill(path, a.tenantId, b.ids), { method, key: admin, body: bodyFor(method, path) });
      expectProblem(res, 404, "not-found");
    },
  );

  it("leaves the other tenant's data untouched after every probe", async () => {
    const entry = await call(`/v1/tenants/${b.tenantId}/entries/${b.ids.entryId}`, { key: b.key });
    expect(entry.status).toBe(200);
    expect(entry.json.data).toEqual({ secret: b.tenantId });
    const key = await call(`/v1/tenants/${b.tenantId}/keys/${b.ids.keyId}`, { key: b.key });
    expect(key.json.revoked_at).toBeNull();
    // b's flag override is b's alone: a's view of the flag has none, b's still holds it.
    const seenByA = await call(`/v1/tenants/${a.tenantId}/flags/${b.ids.flagKey}`, { key: a.key });
    expect(seenByA.json).toMatchObject({ override: null, effective: { enabled: true } });
    const seenByB = await call(`/v1/tenants/${b.tenantId}/flags/${b.ids.flagKey}`, { key: b.key });
    expect(seenByB.json.override).toEqual({ enabled: false });
    const endpoint = await call(`/v1/tenants/${b.tenantId}/webhooks/${b.ids.endpointId}`, { key: b.key });
    expect(endpoint.json).toMatchObject({ enabled: true, events: ["entry.*"] });
    const messages = await call(`/v1/tenants/${b.tenantId}/webhooks/${b.ids.endpointId}/messages`, { key: b.key });
    // b's stream ticket opens nothing on a's path.
    const ticket = await call(`/v1/tenants/${b.tenantId}/stream/tickets`, { method: "POST", key: b.key });
    const opened = await call(`/v1/tenants/${a.tenantId}/stream?ticket=${ticket.json.ticket}`, {
      headers: { Upgrade: "websocket" },
    });
    expectProblem(opened, 401, "stream-ticket-invalid");
    expect(messages.json.data.map((m: { id: string }) => m.id)).toEqual([b.ids.messageId]);
  });
});
