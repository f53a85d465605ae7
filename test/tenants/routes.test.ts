import { describe, expect, it } from "vitest";
import { adminKey, call, uniqueSlug } from "../helpers";

describe("tenants", () => {
  it("creates a tenant and provisions it on a shard", async () => {
    const admin = await adminKey();
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: { name: "Acme", slug: uniqueSlug("acme"), tier: "FREE" },
    });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ name: "Acme", tier: "FREE", status: "ACTIVE", status_reason: null });
    expect(res.json.shard_id).toMatch(/^d1-shared-/);
    expect(res.headers.get("Location")).toBe(`/v1/tenants/${res.json.id}`);
  });
});
