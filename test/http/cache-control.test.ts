import { beforeAll, describe, expect, it } from "vitest";
import { adminKey, call, createTenant, tenantKey } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const varies = (res: { headers: Headers }) =>
  (res.headers.get("Vary") ?? "")
    .split(",")
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);

describe("caching", () => {
  it("forbids storing every authenticated response, success or problem, and varies it by the key", async () => {
    const tenant = await createTenant(admin);
    const { secret } = await tenantKey(admin, tenant.id);
    const entries = `/v1/tenants/${tenant.id}/entries`;
    const created = await call(entries, { method: "POST", key: secret, body: { data: { a: 1 } } });
    const responses = [
      created,
      await call(`${entries}/${created.json.id}`, { key: secret }),
      await call(`${entries}/${created.json.id}`, { key: secret, headers: { "If-None-Match": '"1"' } }),
      await call(entries, { key: secret }),
      await call(`/v1/tenants/${tenant.id}/keys`, { key: secret }),
      await call("/v1/me", { key: secret }),
      await call(`/v1/tenants/${tenant.id}`, { key: admin }),
      await call(`${entries}/ent_01JD8X5Q3M2V7T6R4N9K0B1C2G`, { key: secret }),
      await call("/v1/ping", { key: "etk_nope" }),
      await call("/v1/ping"),
      await call("/v1/no-such-route", { key: secret }),
      await call("/v1", { key: secret }),
      await call("/v1"),
    ];
    expect(responses.map((res) => res.status)).toEqual([
      201, 200, 304, 200, 200, 200, 200, 404, 401, 401, 404, 404, 401,
    ]);
    for (const res of responses) {
      expect(res.headers.get("Cache-Control"), String(res.status)).toBe("no-store");
      expect(varies(res), String(res.status)).toContain("authorization");
    }
  });

  it("keeps the CORS Vary on Origin beside it", async () => {
    const res = await call("/v1/ping", { key: "etk_nope", headers: { Origin: "https://app.example" } });
    expect(varies(res)).toContain("authorization");
  });

  it("lets nothing else be stored either, unless its route says so", async () => {
    expect((await call("/ping")).headers.get("Cache-Control")).toBe("no-store");
    expect((await call("/")).headers.get("Cache-Control")).toBe("no-store");
    expect((await call("/nowhere")).headers.get("Cache-Control")).toBe("no-store");
    // Public documents, revalidated every time because a deploy changes them.
    expect((await call("/openapi.json")).headers.get("Cache-Control")).toBe("no-cache");
    expect((await call("/docs")).headers.get("Cache-Control")).toBe("no-cache");
  });

  it("gives API responses a policy that allows no content sources and no framing", async () => {
    for (const res of [await call("/ping"), await call("/v1/ping"), await call("/openapi.json")]) {
      expect(res.headers.get("Content-Security-Policy")).toBe("default-src 'none'; frame-ancestors 'none'");
      expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
    }
  });
});
