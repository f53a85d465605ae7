import { describe, expect, it } from "vitest";
import { adminKey, call, createTenant, expectProblem, uniqueSlug } from "../helpers";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MiB = 1024 * 1024;

/** The methods listed in an Allow header, as a sorted list. */
const allowOf = (res: Awaited<ReturnType<typeof call>>) =>
  (res.headers.get("Allow") ?? "")
    .split(",")
    .map((m) => m.trim())
    .filter(Boolean)
    .sort();

describe("X-Request-Id", () => {
  it("echoes a valid incoming request id on a successful response", async () => {
    const res = await call("/", { headers: { "X-Request-Id": "client-req_0123=abc" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("X-Request-Id")).toBe("client-req_0123=abc");
  });

  it("echoes a valid incoming request id in a problem body as request_id", async () => {
    const res = await call("/no-such-route", { headers: { "X-Request-Id": "trace-42" } });
    expectProblem(res, 404, "not-found");
    expect(res.headers.get("X-Request-Id")).toBe("trace-42");
    expect(res.json.request_id).toBe("trace-42");
  });

  it("generates a UUID when the request carries no id", async () => {
    const res = await call("/");
    expect(res.headers.get("X-Request-Id")).toMatch(UUID);
  });

  it("generates a fresh id for every request", async () => {
    const [a, b] = await Promise.all([call("/"), call("/")]);
    expect(a.headers.get("X-Request-Id")).toMatch(UUID);
    expect(b.headers.get("X-Request-Id")).toMatch(UUID);
    expect(a.headers.get("X-Request-Id")).not.toBe(b.headers.get("X-Request-Id"));
  });

  it("replaces an incoming id with forbidden characters by a generated UUID", async () => {
    const res = await call("/nope", { headers: { "X-Request-Id": "bad id<script>" } });
    expectProblem(res, 404, "not-found");
    expect(res.headers.get("X-Request-Id")).toMatch(UUID);
    expect(res.json.request_id).toBe(res.headers.get("X-Request-Id"));
  });

  it("replaces an incoming id longer than 255 characters by a generated UUID", async () => {
    const res = await call("/", { headers: { "X-Request-Id": "a".repeat(256) } });
    expect(res.headers.get("X-Request-Id")).toMatch(UUID);
  });

  it("carries a generated request id in the problem body of an authentication failure", async () => {
    const res = await call("/v1/tenants");
    expectProblem(res, 401, "unauthenticated");
    expect(res.json.request_id).toMatch(UUID);
  });
});

describe("problem documents", () => {
  it("describe the problem with type, title, status, instance and request_id", async () => {
    const res = await call("/v1/tenants/ten_01JD8X5Q3M2V7T6R4N9K0B1C2D", { key: await adminKey() });
    expectProblem(res, 404, "not-found");
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
    expect(res.json).toMatchObject({
      type: "https://edge-tenancy.dev/problems/not-found",
      title: "The resource does not exist",
      status: 404,
      instance: "/v1/tenants/ten_01JD8X5Q3M2V7T6R4N9K0B1C2D",
    });
  });
});

describe("unknown routes", () => {
  it("answer 404 not-found for a path outside the API", async () => {
    const res = await call("/definitely/not/here");
    expectProblem(res, 404, "not-found");
    expect(res.json.instance).toBe("/definitely/not/here");
    expect(res.headers.get("Allow")).toBeNull();
  });

  it("answer 404 not-found for an unknown path under /v1 for an authenticated caller", async () => {
    const res = await call("/v1/widgets", { key: await adminKey() });
    expectProblem(res, 404, "not-found");
  });

  it("answer 404 not-found for an unknown sub-resource of a tenant", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const res = await call(`/v1/tenants/${tenant.id}/widgets`, { key: admin });
    expectProblem(res, 404, "not-found");
  });
});

describe("wrong methods", () => {
  it("answer 405 with Allow listing GET, POST and HEAD on the tenant collection", async () => {
    const res = await call("/v1/tenants", { method: "PUT", key: await adminKey(), body: {} });
    expectProblem(res, 405, "method-not-allowed");
    expect(allowOf(res)).toEqual(["GET", "HEAD", "POST"]);
  });

  it("answer 405 with Allow listing GET, PATCH, DELETE and HEAD on a single tenant", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const res = await call(`/v1/tenants/${tenant.id}`, { method: "PUT", key: admin, body: {} });
    expectProblem(res, 405, "method-not-allowed");
    expect(allowOf(res)).toEqual(["DELETE", "GET", "HEAD", "PATCH"]);
  });

  it("answer 405 with Allow listing the entry methods on a single entry", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const res = await call(`/v1/tenants/${tenant.id}/entries/ent_01JD8X5Q3M2V7T6R4N9K0B1C2G`, {
      method: "POST",
      key: admin,
      body: { data: {} },
    });
    expectProblem(res, 405, "method-not-allowed");
    expect(allowOf(res)).toEqual(["DELETE", "GET", "HEAD", "PUT"]);
  });

  it("answer 405 with Allow listing POST only on the provision action", async () => {
    const admin = await adminKey();
    const tenant = await createTenant(admin);
    const res = await call(`/v1/tenants/${tenant.id}/provision`, { key: admin });
    expectProblem(res, 405, "method-not-allowed");
    expect(allowOf(res)).toEqual(["POST"]);
  });

  it("answer 405 on a public GET-only path without needing a key", async () => {
    const res = await call("/openapi.json", { method: "POST", body: {} });
    expectProblem(res, 405, "method-not-allowed");
    expect(allowOf(res)).toEqual(["GET", "HEAD"]);
  });

  it("are not reported for a real path with a trailing slash, whose Allow would list the method itself", async () => {
    // Hono routes strictly, so "/docs/" is not "/docs"; a 405 naming GET in Allow for a GET contradicts itself.
    const res = await call("/docs/");
    expect(allowOf(res)).not.toContain("GET");
    expect(res.status).not.toBe(405);
  });

  it("are not reported for the tenant collection with a trailing slash", async () => {
    const res = await call("/v1/tenants/", { key: await adminKey() });
    expect(allowOf(res)).not.toContain("GET");
    expect(res.status).not.toBe(405);
  });

  it("still require authentication first under /v1", async () => {
    const res = await call("/v1/tenants", { method: "PUT", body: {} });
    expectProblem(res, 401, "unauthenticated");
  });
});

describe("request bodies", () => {
  it("over 1 MiB are rejected with 413 payload-too-large", async () => {
    const admin = await adminKey();
    const slug = uniqueSlug("big");
    const padding = "x".repeat(Math.ceil(1.1 * MiB));
    const body = JSON.stringify({ name: "Big", slug, tier: "FREE", padding });
    expect(body.length).toBeGreaterThan(1.1 * MiB);
    const res = await call("/v1/tenants", { method: "POST", key: admin, body });
    expectProblem(res, 413, "payload-too-large");
    expect(res.json.detail).toContain(String(MiB));

    // Nothing was created.
    const list = await call("/v1/tenants?limit=100", { key: admin });
    expect(list.json.data.map((t: { slug: string }) => t.slug)).not.toContain(slug);
  });

  it("over 1 MiB are rejected with 413 even before authentication", async () => {
    const res = await call("/v1/tenants", { method: "POST", body: `{"name":"${"y".repeat(MiB + 10)}"}` });
    expectProblem(res, 413, "payload-too-large");
  });

  it("just under 1 MiB pass the size limit and reach validation", async () => {
    const admin = await adminKey();
    const body = JSON.stringify({ name: "z".repeat(MiB - 100), slug: uniqueSlug(), tier: "FREE" });
    expect(body.length).toBeLessThanOrEqual(MiB);
    const res = await call("/v1/tenants", { method: "POST", key: admin, body });
    expectProblem(res, 400, "validation-error");
    expect(res.json.errors.map((e: { path: string }) => e.path)).toContain("body.name");
  });

  it("sent as text/plain are answered with 415 unsupported-media-type", async () => {
    const res = await call("/v1/tenants", {
      method: "POST",
      key: await adminKey(),
      headers: { "Content-Type": "text/plain" },
      body: JSON.stringify({ name: "Plain", slug: uniqueSlug(), tier: "FREE" }),
    });
    expectProblem(res, 415, "unsupported-media-type");
  });

  it("that are not JSON are answered with 400 malformed-json", async () => {
    const res = await call("/v1/tenants", { method: "POST", key: await adminKey(), body: '{"name": "Acme",' });
    expectProblem(res, 400, "malformed-json");
  });
});
