import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { PROBLEMS } from "../../src/http/problems";
import { adminKey, call, captureConsole, createTenant, expectProblem, tenantKey } from "../helpers";

// This file breaks the control database on purpose; storage is isolated per test file, so the
// other files keep their tables. The calls use a tenant key that has been used once: its
// tenant's gate then admits it from its own copy, so the fault is met by the handler, not by
// authentication (which would answer 503 control-plane-unavailable; see test/gate/fallback).

/** A tenant and a tenant:admin key its gate has already seen. */
async function warmTenant(admin: string) {
  const tenant = await createTenant(admin);
  const { secret } = await tenantKey(admin, tenant.id);
  expect((await call(`/v1/tenants/${tenant.id}/users`, { key: secret })).status).toBe(200);
  return { tenant, key: secret };
}

/** Asserts a 500 problem document that reveals nothing about the fault behind it. */
function expectOpaqueInternalError(res: Awaited<ReturnType<typeof call>>) {
  expectProblem(res, 500, "internal-error");
  expect(Object.keys(res.json).sort()).toEqual(["detail", "instance", "request_id", "status", "title", "type"]);
  expect(res.json.title).toBe("An unexpected error occurred");
  // The same words whatever failed: they point to the request id, never at the fault.
  expect(res.json.detail).toBe(PROBLEMS["internal-error"].detail);
  for (const leak of [/no such table/i, /sqlite/i, /D1_/, /select\s/i, /\bfrom\s+["`]?users/i, /\n\s+at\s/, /Error:/]) {
    expect(res.text).not.toMatch(leak);
  }
  expect(res.json.stack).toBeUndefined();
}

describe("an unexpected internal failure", () => {
  let admin: string;
  beforeAll(async () => {
    admin = await adminKey();
  });
  // The Worker logs the fault server-side; capture it instead of printing it.
  const logged = captureConsole("error");

  it("releases the Idempotency-Key, so a retry after recovery runs the request", async () => {
    const { tenant, key } = await warmTenant(admin);
    const request = {
      method: "POST",
      key,
      headers: { "Idempotency-Key": "retry-after-500" },
      body: { email: "ada@example.com", role: "MEMBER" },
    };

    await env.CONTROL_DB.exec("ALTER TABLE users RENAME TO users_offline");
    try {
      const failed = await call(`/v1/tenants/${tenant.id}/users`, request);
      expectOpaqueInternalError(failed);
    } finally {
      await env.CONTROL_DB.exec("ALTER TABLE users_offline RENAME TO users");
    }

    const records = await env.CONTROL_DB.prepare("SELECT count(*) AS n FROM idempotency_records WHERE key = ?")
      .bind("retry-after-500")
      .first<{ n: number }>();
    expect(records?.n).toBe(0);

    const retried = await call(`/v1/tenants/${tenant.id}/users`, request);
    expect(retried.status).toBe(201);
    expect(retried.headers.get("Idempotent-Replayed")).toBeNull();
    expect(retried.json.email).toBe("ada@example.com");
  });

  it("keeps security headers on the 500 response", async () => {
    const { tenant, key } = await warmTenant(admin);
    await env.CONTROL_DB.exec("ALTER TABLE users RENAME TO users_offline");
    let res: Awaited<ReturnType<typeof call>>;
    try {
      res = await call(`/v1/tenants/${tenant.id}/users`, { key });
    } finally {
      await env.CONTROL_DB.exec("ALTER TABLE users_offline RENAME TO users");
    }
    expectOpaqueInternalError(res);
    expect(res.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });

  // Last: it drops the users table for good.
  it("answers 500 internal-error with no stack, SQL or error message after the users table is dropped", async () => {
    const { tenant, key } = await warmTenant(admin);

    // Drop the table only when no row references it (api_keys.user_id is a foreign key).
    await env.CONTROL_DB.exec("UPDATE api_keys SET user_id = NULL");
    await env.CONTROL_DB.exec("DELETE FROM users");
    await env.CONTROL_DB.exec("DROP TABLE users");

    const res = await call(`/v1/tenants/${tenant.id}/users`, {
      key,
      headers: { "X-Request-Id": "fault-1" },
    });
    expectOpaqueInternalError(res);
    expect(res.json.request_id).toBe("fault-1");
    expect(res.json.instance).toBe(`/v1/tenants/${tenant.id}/users`);

    // The details go to the log, tied to the request id, and never carry the key's secret.
    const lines = logged().mock.calls.map((args) => String(args[0]));
    const entry = lines.map((line) => JSON.parse(line)).find((l) => l.request_id === "fault-1");
    expect(entry).toMatchObject({ level: "error", method: "GET", path: `/v1/tenants/${tenant.id}/users` });
    expect(entry.error).toMatch(/users/);
    expect(lines.join("\n")).not.toContain(key);
  });
});
