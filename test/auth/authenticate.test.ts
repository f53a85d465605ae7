import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { adminKey, call, createTenant, expectProblem, tenantKey } from "../helpers";

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type ApiKeyRow = Record<string, unknown> & {
  id: string;
  prefix: string;
  secret_hash: string;
  last_used_at: number | null;
};

const keyRow = (id: string) =>
  env.CONTROL_DB.prepare("SELECT * FROM api_keys WHERE id = ?").bind(id).first<ApiKeyRow>();

async function sha256Hex(input: string) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** A fresh tenant with a key holding every scope. */
async function setup() {
  const admin = await adminKey();
  const tenant = await createTenant(admin);
  const key = await tenantKey(admin, tenant.id);
  return { admin, tenant, key };
}

describe("authentication", () => {
  it("answers a request without an Authorization header with 401 unauthenticated and a Bearer challenge", async () => {
    const res = await call("/v1/me");
    expectProblem(res, 401, "unauthenticated");
    expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="edge-tenancy"');
  });

  it("treats an Authorization header that is not a Bearer credential as missing", async () => {
    const { key } = await setup();
    const res = await call("/v1/me", { headers: { Authorization: `Basic ${key.secret}` } });
    expectProblem(res, 401, "unauthenticated");
    expect(res.headers.get("WWW-Authenticate")).toContain("Bearer");
  });

  it("rejects a malformed key with 401 invalid-api-key and an invalid_token challenge", async () => {
    for (const presented of ["not-a-key", "etk_short_secret", "etk_AAAAAAAAAAAAAAAA_tooshort", "xyz_abc"]) {
      const res = await call("/v1/me", { key: presented });
      expectProblem(res, 401, "invalid-api-key");
      expect(res.headers.get("WWW-Authenticate")).toBe('Bearer realm="edge-tenancy", error="invalid_token"');
    }
  });

  it("rejects a well-formed key whose prefix does not exist with 401 invalid-api-key", async () => {
    const { key } = await setup();
    const secret = key.secret.slice(key.prefix.length + 1);
    const res = await call("/v1/me", { key: `etk_ZZZZZZZZZZZZZZZZ_${secret}` });
    expectProblem(res, 401, "invalid-api-key");
  });

  it("rejects a known prefix presented with the wrong secret with 401 invalid-api-key", async () => {
    const { key } = await setup();
    const secret = key.secret.slice(key.prefix.length + 1);
    const wrong = `${secret.slice(0, -1)}${secret.endsWith("A") ? "B" : "A"}`;
    const res = await call("/v1/me", { key: `${key.prefix}_${wrong}` });
    expectProblem(res, 401, "invalid-api-key");
    // The genuine key still works, so the rejection was about the secret alone.
    expect((await call("/v1/me", { key: key.secret })).status).toBe(200);
  });

  it("accepts the scheme name in any case and tolerates surrounding whitespace", async () => {
    const { key } = await setup();
    const res = await call("/v1/me", { headers: { Authorization: `bearer   ${key.secret}  ` } });
    expect(res.status).toBe(200);
    expect(res.json.key.prefix).toBe(key.prefix);
  });

  it("stops accepting a key once its expires_at has passed", async () => {
    const { admin, tenant } = await setup();
    const expiresAt = Date.now() + 1500;
    const key = await tenantKey(admin, tenant.id, ["entries:read"], {
      expires_at: new Date(expiresAt).toISOString(),
    });

    const before = await call("/v1/me", { key: key.secret });
    expect(before.status).toBe(200);
    expect(before.json.key.expires_at).toBe(new Date(expiresAt).toISOString());

    await sleep(Math.max(0, expiresAt - Date.now()) + 100);
    const after = await call("/v1/me", { key: key.secret });
    expectProblem(after, 401, "invalid-api-key");
  });

  it("stops accepting a revoked key on the very next request and keeps refusing it", async () => {
    const { admin, tenant } = await setup();
    const key = await tenantKey(admin, tenant.id, ["entries:read"]);
    expect((await call("/v1/me", { key: key.secret })).status).toBe(200);

    const revoked = await call(`/v1/tenants/${tenant.id}/keys/${key.id}`, { method: "DELETE", key: admin });
    expect(revoked.status).toBe(200);
    const revokedAt = Date.now();

    expectProblem(await call("/v1/me", { key: key.secret }), 401, "invalid-api-key");
    await sleep(200);
    const later = await call("/v1/me", { key: key.secret });
    const elapsed = Date.now() - revokedAt;
    expectProblem(later, 401, "invalid-api-key");
    expect(elapsed).toBeLessThan(1000);
  });

  it("lets a key revoke itself, after which it is refused", async () => {
    const { tenant, key } = await setup();
    const res = await call(`/v1/tenants/${tenant.id}/keys/${key.id}`, { method: "DELETE", key: key.secret });
    expect(res.status).toBe(200);
    expectProblem(await call("/v1/me", { key: key.secret }), 401, "invalid-api-key");
  });

  it("answers a suspended tenant's key with 403 tenant-suspended and accepts it again after resume", async () => {
    const { admin, tenant, key } = await setup();
    expect((await call(`/v1/tenants/${tenant.id}`, { key: key.secret })).status).toBe(200);

    const suspend = await call(`/v1/tenants/${tenant.id}`, {
      method: "PATCH",
      key: admin,
      body: { status: "SUSPENDED" },
    });
    expect(suspend.status).toBe(200);
    expect(suspend.json.status).toBe("SUSPENDED");

    expectProblem(await call("/v1/me", { key: key.secret }), 403, "tenant-suspended");
    expectProblem(await call(`/v1/tenants/${tenant.id}/keys`, { key: key.secret }), 403, "tenant-suspended");
    // The platform admin is not affected by the tenant's suspension.
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).status).toBe(200);

    const resume = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { status: "ACTIVE" } });
    expect(resume.status).toBe(200);
    const me = await call("/v1/me", { key: key.secret });
    expect(me.status).toBe(200);
    expect(me.json.tenant.status).toBe("ACTIVE");
  });

  it("still answers 401 rather than 403 for a revoked key of a suspended tenant", async () => {
    const { admin, tenant, key } = await setup();
    await call(`/v1/tenants/${tenant.id}/keys/${key.id}`, { method: "DELETE", key: admin });
    await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { status: "SUSPENDED" } });
    expectProblem(await call("/v1/me", { key: key.secret }), 401, "invalid-api-key");
  });

  it("stores only the SHA-256 of the secret part, never the secret itself", async () => {
    const { key } = await setup();
    expect(key.secret).toMatch(/^etk_[A-Za-z0-9]{16}_[A-Za-z0-9_-]{43}$/);
    // The secret itself may contain underscores; everything after the second one is the secret part.
    const secretPart = key.secret.split("_").slice(2).join("_");
    expect(`${key.prefix}_${secretPart}`).toBe(key.secret);

    const row = await keyRow(key.id);
    expect(row).not.toBeNull();
    for (const [column, value] of Object.entries(row ?? {})) {
      const text = String(value);
      expect(text, `column ${column}`).not.toContain(secretPart);
      expect(text, `column ${column}`).not.toContain(key.secret);
    }
    expect(row?.prefix).toBe(key.prefix);
    expect(row?.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(row?.secret_hash).toBe(await sha256Hex(secretPart));
  });

  it("records last_used_at after the key is used", async () => {
    const { admin, tenant } = await setup();
    const key = await tenantKey(admin, tenant.id, ["entries:read"]);
    expect((await keyRow(key.id))?.last_used_at).toBeNull();

    const before = Date.now();
    expect((await call("/v1/me", { key: key.secret })).status).toBe(200);

    // The write happens in waitUntil, after the response; give it a moment.
    let lastUsed: number | null | undefined = null;
    for (let attempt = 0; attempt < 50 && lastUsed === null; attempt++) {
      lastUsed = (await keyRow(key.id))?.last_used_at;
      if (lastUsed === null) await sleep(50);
    }
    expect(lastUsed).toBeGreaterThanOrEqual(before - 5);
    expect(lastUsed).toBeLessThanOrEqual(Date.now());

    const listed = await call(`/v1/tenants/${tenant.id}/keys/${key.id}`, { key: admin });
    expect(listed.json.last_used_at).toBe(new Date(lastUsed as number).toISOString());

    // Within the one-minute resolution a further use does not write again.
    expect((await call("/v1/me", { key: key.secret })).status).toBe(200);
    await sleep(200);
    expect((await keyRow(key.id))?.last_used_at).toBe(lastUsed);
  });
});
