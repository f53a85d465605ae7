import { Hono } from "hono";
import { describe, expect, it } from "vitest";
import type { AppEnv } from "../../src/env";
import { defineRoute } from "../../src/http/define-route";
import { type RouteMeta, routeMetaOf } from "../../src/http/route-meta";
import { createRouter } from "../../src/http/router";
import { call } from "../helpers";

type Operation = Record<string, unknown>;

async function operations() {
  const document = (await call("/openapi.json")).json as { paths: Record<string, Record<string, Operation>> };
  return Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
  );
}

describe("route metadata", () => {
  it("names an audit action on every route that changes something, and on no read", async () => {
    const all = await operations();
    expect(all.length).toBeGreaterThan(30);
    // POSTs that only read (flag evaluations, OFREP) say so, and have no action.
    const readOnly = all.filter(({ operation }) => operation["x-read-only"]);
    expect(readOnly.every(({ method, operation }) => method === "post" && !operation["x-audit-action"])).toBe(true);
    const changing = all.filter(({ method, operation }) => method !== "get" && !operation["x-read-only"]);
    expect(
      changing.filter(({ operation }) => !operation["x-audit-action"]).map((o) => `${o.method} ${o.path}`),
    ).toEqual([]);
    expect(all.filter(({ method, operation }) => method === "get" && operation["x-audit-action"])).toEqual([]);
    const actions = changing.map(({ operation }) => operation["x-audit-action"]);
    for (const action of actions) expect(action).toMatch(/^[a-z_]+\.[a-z_]+$/);
  });

  it("marks exactly the entries, events and audit routes as touching the shard: reads read, the rest write", async () => {
    const touching = (await operations()).filter(({ operation }) => operation["x-shard"] !== undefined);
    expect(touching.map(({ method, path, operation }) => `${method} ${path} ${operation["x-shard"]}`).sort()).toEqual([
      "delete /v1/tenants/{tenantId}/entries/{entryId} write",
      "get /v1/tenants/{tenantId}/audit read",
      "get /v1/tenants/{tenantId}/audit/verify read",
      "get /v1/tenants/{tenantId}/entries read",
      "get /v1/tenants/{tenantId}/entries/{entryId} read",
      "get /v1/tenants/{tenantId}/events read",
      "post /v1/tenants/{tenantId}/entries write",
      "put /v1/tenants/{tenantId}/entries/{entryId} write",
    ]);
  });

  it("documents the scope and the platform-admin requirement the route enforces", async () => {
    const byKey = new Map((await operations()).map((o) => [`${o.method} ${o.path}`, o.operation]));
    expect(byKey.get("post /v1/tenants/{tenantId}/entries")?.["x-required-scope"]).toBe("entries:write");
    expect(byKey.get("get /v1/tenants/{tenantId}/users")?.["x-required-scope"]).toBe("tenant:admin");
    expect(byKey.get("post /v1/tenants")?.["x-platform-admin"]).toBe(true);
    expect(byKey.get("get /v1/tenants/{tenantId}")?.["x-platform-admin"]).toBeUndefined();
  });

  it("is what middleware ahead of routing sees, and nothing for a path no route serves", async () => {
    const seen: (RouteMeta | undefined)[] = [];
    const meta: RouteMeta = { audit: "thing.made" };
    const sub = createRouter().openapi(
      defineRoute({ method: "post", path: "/{id}", meta, responses: { 204: { description: "made" } } }),
      (c) => c.body(null, 204),
    );
    const app = new Hono<AppEnv>();
    app.use(async (c, next) => {
      seen.push(routeMetaOf(c));
      await next();
    });
    app.route("/things", sub);
    expect((await app.request("/things/1", { method: "POST" })).status).toBe(204);
    expect((await app.request("/things/1", { method: "GET" })).status).toBe(404);
    expect((await app.request("/elsewhere", { method: "POST" })).status).toBe(404);
    expect(seen).toEqual([meta, undefined, undefined]);
  });
});
