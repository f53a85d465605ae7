import { beforeAll, describe, expect, it } from "vitest";
import { adminKey, call, createTenant, errorPaths, expectProblem, uniqueSlug } from "../helpers";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

describe("every JSON request body", () => {
  it("is refused with the path of a lone surrogate or NUL in any name, instead of stored as U+FFFD", async () => {
    const tenant = await createTenant(admin);
    for (const [path, body, field] of [
      ["/v1/tenants", `{"name":"a\\ud800b","slug":"${uniqueSlug()}","tier":"STANDARD"}`, "body.name"],
      [`/v1/tenants/${tenant.id}/users`, '{"email":"x@example.com","role":"MEMBER","name":"\\u0000"}', "body.name"],
      [`/v1/tenants/${tenant.id}/keys`, '{"name":"k\\udfff","scopes":["entries:read"]}', "body.name"],
      ["/v1/admin/keys", '{"name":"\\ud800"}', "body.name"],
    ] as const) {
      const res = await call(path, { method: "POST", key: admin, body });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res), path).toEqual([field]);
    }
  });

  it("answers 400 malformed-json when it is not UTF-8", async () => {
    const body = new Uint8Array([...new TextEncoder().encode('{"name":"a'), 0xff, ...new TextEncoder().encode('"}')]);
    expectProblem(await call("/v1/admin/keys", { method: "POST", key: admin, body }), 400, "malformed-json");
  });

  it("is refused when a key appears twice, wherever", async () => {
    const res = await call("/v1/tenants", {
      method: "POST",
      key: admin,
      body: `{"name":"A","name":"B","slug":"${uniqueSlug()}","tier":"STANDARD"}`,
    });
    expectProblem(res, 400, "validation-error");
    expect(errorPaths(res)).toEqual(["body.name"]);
  });

  it("is 415 when it declares a charset other than UTF-8 or comes compressed", async () => {
    const body = '{"name":"x"}';
    for (const headers of [
      { "Content-Type": "application/json; charset=iso-8859-1" } as Record<string, string>,
      { "Content-Type": "application/json;charset=utf-16" },
      { "Content-Type": "application/json; charset=utf-8; charset=latin1" },
      { "Content-Type": "application/json", "Content-Encoding": "br" },
      { "Content-Type": "application/json", "Content-Encoding": "gzip" },
    ]) {
      const res = await call("/v1/admin/keys", { method: "POST", key: admin, body, headers });
      expectProblem(res, 415, "unsupported-media-type");
    }
    for (const contentType of [
      "application/json; charset=utf-8",
      "application/json;charset=UTF8",
      'application/json; charset="utf-8"',
    ]) {
      const res = await call("/v1/admin/keys", {
        method: "POST",
        key: admin,
        body,
        headers: { "Content-Type": contentType },
      });
      expect(res.status, contentType).toBe(201);
    }
  });

  it("is left to the route's own answers when it is not JSON at all", async () => {
    expectProblem(await call("/v1/admin/keys", { method: "POST", key: admin, body: "{" }), 400, "malformed-json");
    const res = await call("/v1/admin/keys", {
      method: "POST",
      key: admin,
      body: '{"name":"x"}',
      headers: { "Content-Type": "text/plain" },
    });
    expectProblem(res, 415, "unsupported-media-type");
  });

  it("is checked only after authentication: no key is still 401", async () => {
    expectProblem(await call("/v1/tenants", { method: "POST", body: '{"a":1,"a":2}' }), 401, "unauthenticated");
  });
});
