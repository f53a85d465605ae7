import { env } from "cloudflare:workers";
import { OpenAPIHono } from "@hono/zod-openapi";
import { requestId } from "hono/request-id";
import { beforeAll, describe, expect, it } from "vitest";
import type { AppEnv } from "../../src/env";
import { onError } from "../../src/http/on-error";
import { AppError, PROBLEMS, type ProblemType } from "../../src/http/problems";
import { adminKey, call, captureConsole, createTenant, expectProblem, tenantKey } from "../helpers";

const TYPES = Object.keys(PROBLEMS) as ProblemType[];

/** Raises any problem type with nothing but its type, as code that has no more to say would. */
function raisingApp() {
  const app = new OpenAPIHono<AppEnv>();
  app.use(requestId());
  app.get("/raise/:type", (c) => {
    throw new AppError(c.req.param("type") as ProblemType);
  });
  app.onError(onError);
  return app;
}

describe("every problem type", () => {
  it.each(TYPES)("%s carries type, title, status, detail, instance and the request id", async (type) => {
    const res = await raisingApp().request(`/raise/${type}`, {}, env);
    const body = (await res.json()) as Record<string, unknown>;
    expect(res.status).toBe(PROBLEMS[type].status);
    expect(res.headers.get("Content-Type")).toBe("application/problem+json");
    expect(body).toMatchObject({
      type: `https://edge-tenancy.dev/problems/${type}`,
      title: PROBLEMS[type].title,
      status: PROBLEMS[type].status,
      detail: PROBLEMS[type].detail,
      instance: `/raise/${type}`,
      request_id: res.headers.get("X-Request-Id"),
    });
    expect(String(body.detail).length).toBeGreaterThan(10);
  });

  it("says something more than its title in every detail, and nothing about the platform's insides", () => {
    for (const type of TYPES) {
      const { title, detail } = PROBLEMS[type];
      expect(detail, type).not.toBe("");
      expect(detail, type).not.toMatch(/sqlite|d1_|postgres|stack|exception/i);
      if (type !== "forbidden") expect(detail, type).not.toBe(title);
    }
  });
});

describe("the problems that carried no detail", () => {
  let admin: string;
  beforeAll(async () => {
    admin = await adminKey();
  });
  const logged = captureConsole("error");

  it("415 unsupported-media-type tells the caller which Content-Type to send", async () => {
    const tenant = await createTenant(admin);
    const { secret } = await tenantKey(admin, tenant.id);
    const res = await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key: secret,
      body: JSON.stringify({ data: {} }),
      headers: { "Content-Type": "text/plain" },
    });
    expectProblem(res, 415, "unsupported-media-type");
    expect(res.json.detail).toMatch(/application\/json/);
  });

  it("401 invalid-api-key says what may be wrong without saying which", async () => {
    const tenant = await createTenant(admin);
    const { secret } = await tenantKey(admin, tenant.id);
    const wrong = `${secret.slice(0, -4)}AAAA`;
    for (const key of [wrong, "etk_notakeyatall", `${secret.slice(0, 21)}`]) {
      const res = await call("/v1/ping", { key });
      expectProblem(res, 401, "invalid-api-key");
      expect(res.json.detail).toBe(PROBLEMS["invalid-api-key"].detail);
    }
  });

  it("500 internal-error points to the request id", async () => {
    const tenant = await createTenant(admin);
    const { secret } = await tenantKey(admin, tenant.id);
    expect((await call(`/v1/tenants/${tenant.id}/users`, { key: secret })).status).toBe(200);
    await env.CONTROL_DB.exec("ALTER TABLE users RENAME TO users_gone");
    try {
      const res = await call(`/v1/tenants/${tenant.id}/users`, { key: secret });
      expectProblem(res, 500, "internal-error");
      expect(res.json.detail).toMatch(/request_id/);
    } finally {
      await env.CONTROL_DB.exec("ALTER TABLE users_gone RENAME TO users");
    }
    expect(logged()).toHaveBeenCalled();
  });
});
