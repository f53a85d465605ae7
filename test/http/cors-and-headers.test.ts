import { describe, expect, it } from "vitest";
import { adminKey, call, expectProblem } from "../helpers";

const ORIGIN = "https://app.example.com";

/** A header's comma-separated values, lower-cased. */
const listOf = (value: string | null) =>
  (value ?? "")
    .split(",")
    .map((v) => v.trim().toLowerCase())
    .filter(Boolean);

describe("CORS", () => {
  it("answers a preflight with 204 and the allowed methods, headers and max age", async () => {
    const res = await call("/v1/tenants", {
      method: "OPTIONS",
      headers: {
        Origin: ORIGIN,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type, idempotency-key",
      },
    });
    expect(res.status).toBe(204);
    expect(res.text).toBe("");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(listOf(res.headers.get("Access-Control-Allow-Methods"))).toEqual(
      expect.arrayContaining(["get", "post", "put", "patch", "delete", "options"]),
    );
    expect(listOf(res.headers.get("Access-Control-Allow-Headers"))).toEqual(
      expect.arrayContaining([
        "authorization",
        "content-type",
        "idempotency-key",
        "if-match",
        "if-none-match",
        "x-request-id",
      ]),
    );
    expect(res.headers.get("Access-Control-Max-Age")).toBe("600");
  });

  it("answers a preflight on a tenant data path without asking for a key", async () => {
    const res = await call("/v1/tenants/ten_01JD8X5Q3M2V7T6R4N9K0B1C2D/entries/ent_01JD8X5Q3M2V7T6R4N9K0B1C2G", {
      method: "OPTIONS",
      headers: { Origin: ORIGIN, "Access-Control-Request-Method": "PUT" },
    });
    expect(res.status).toBe(204);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(res.headers.get("WWW-Authenticate")).toBeNull();
  });

  it("allows any origin on an actual request because CORS_ORIGINS is *", async () => {
    const res = await call("/v1/tenants", { key: await adminKey(), headers: { Origin: "https://elsewhere.test" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });

  it("exposes the headers a browser client needs to read", async () => {
    const res = await call("/", { headers: { Origin: ORIGIN } });
    expect(listOf(res.headers.get("Access-Control-Expose-Headers"))).toEqual(
      expect.arrayContaining(["etag", "location", "x-request-id", "idempotent-replayed", "retry-after"]),
    );
  });

  it("keeps the CORS headers on problem responses so browsers can read the error", async () => {
    const res = await call("/v1/tenants", { headers: { Origin: ORIGIN } });
    expectProblem(res, 401, "unauthenticated");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
    expect(listOf(res.headers.get("Access-Control-Expose-Headers"))).toContain("x-request-id");
  });

  it("keeps the CORS headers on a 404 problem", async () => {
    const res = await call("/nowhere", { headers: { Origin: ORIGIN } });
    expectProblem(res, 404, "not-found");
    expect(res.headers.get("Access-Control-Allow-Origin")).toBe("*");
  });
});

describe("security headers", () => {
  const expectSecurityHeaders = (res: Awaited<ReturnType<typeof call>>) => {
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    expect(res.headers.get("X-Frame-Options")).toBe("SAMEORIGIN");
    expect(res.headers.get("Strict-Transport-Security")).toMatch(/max-age=\d+/);
    expect(res.headers.get("Referrer-Policy")).toBe("no-referrer");
    expect(res.headers.get("X-Powered-By")).toBeNull();
  };

  it("are present on a successful API response", async () => {
    const res = await call("/v1/tenants", { key: await adminKey() });
    expect(res.status).toBe(200);
    expectSecurityHeaders(res);
  });

  it("are present on a problem response", async () => {
    const res = await call("/v1/tenants");
    expectProblem(res, 401, "unauthenticated");
    expectSecurityHeaders(res);
  });

  it("are present on a 405 response", async () => {
    const res = await call("/", { method: "DELETE" });
    expectProblem(res, 405, "method-not-allowed");
    expectSecurityHeaders(res);
  });

  it("are present on the public index", async () => {
    expectSecurityHeaders(await call("/"));
  });
});

describe("public endpoints", () => {
  it("GET / answers 200 with the API's name and links, without a key", async () => {
    const res = await call("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(res.json).toMatchObject({ name: "edge-tenancy", docs: "/docs", openapi: "/openapi.json" });
    expect(res.json.version).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it("GET /docs answers 200 with an HTML page pointing at the OpenAPI document, without a key", async () => {
    const res = await call("/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(res.text).toMatch(/<html/i);
    expect(res.text).toContain("/openapi.json");
  });

  it("GET /openapi.json answers 200 with an OpenAPI 3.1 document, without a key", async () => {
    const res = await call("/openapi.json");
    expect(res.status).toBe(200);
    expect(res.headers.get("Content-Type")).toMatch(/^application\/json/);
    expect(res.json.openapi).toBe("3.1.0");
    expect(res.json.info.title).toBe("edge-tenancy");
    // Relative, whatever Host the request names.
    expect(res.json.servers).toEqual([{ url: "/" }]);
    const forged = await call("/openapi.json", { headers: { Host: "evil.example" } });
    expect(forged.json.servers).toEqual([{ url: "/" }]);
    expect(forged.text).not.toContain("evil.example");
    expect(Object.keys(res.json.paths)).toEqual(
      expect.arrayContaining(["/v1/tenants", "/v1/tenants/{tenantId}", "/v1/tenants/{tenantId}/entries"]),
    );
    expect(res.json.components.securitySchemes.apiKey).toMatchObject({ type: "http", scheme: "bearer" });
  });

  it("HEAD / answers 200 with no body", async () => {
    const res = await call("/", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.text).toBe("");
  });
});
