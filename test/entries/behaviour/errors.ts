import { describe, expect, it } from "vitest";
import { adminKey, type Call, call, errorPaths, expectProblem, tenantKey } from "../../helpers";
import { entriesFixture } from "../fixture";

/** A well-formed entry id that no entry has. */
const UNKNOWN_ENTRY = "ent_01JD8X5Q3M2V7T6R4N9K0B1C2G";

/** The shared fixture plus one existing entry. */
async function setup() {
  const fixture = await entriesFixture();
  const created = await fixture.create({ data: { a: 1 }, tags: ["t"] });
  return { ...fixture, entryId: created.id };
}

/** Every unhappy path of the entries API: validation, ids, preconditions, keys, tenant boundaries. */
export function entryErrorsBehaviour() {
  describe("validation of the entry body", () => {
    it("rejects a body without data, naming body.data", async () => {
      const { send, entryId } = await setup();
      for (const [method, path] of [
        ["POST", ""],
        ["PUT", `/${entryId}`],
      ] as const) {
        const res = await send(path, { method, body: { tags: ["x"] } });
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res)).toContain("body.data");
      }
    });

    it("rejects data that is not an object, naming body.data", async () => {
      const { send } = await setup();
      for (const data of ["text", 42, null, true, [1, 2]]) {
        const res = await send("", { method: "POST", body: { data } });
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res), JSON.stringify(data)).toContain("body.data");
      }
    });

    it("rejects tags that are not strings, naming each bad tag by index", async () => {
      const { send } = await setup();
      const res = await send("", { method: "POST", body: { data: {}, tags: ["ok", 5, { t: 1 }] } });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toEqual(expect.arrayContaining(["body.tags.1", "body.tags.2"]));
      expect(errorPaths(res)).not.toContain("body.tags.0");
    });

    it("rejects tags that are not a list, naming body.tags", async () => {
      const { send } = await setup();
      const res = await send("", { method: "POST", body: { data: {}, tags: "a,b" } });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("body.tags");
    });

    it("rejects tags outside 1-64 letters, digits, _ . : -", async () => {
      const { send } = await setup();
      for (const tag of ["", "has space", "slash/tag", "x".repeat(65)]) {
        const res = await send("", { method: "POST", body: { data: {}, tags: [tag] } });
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res)).toContain("body.tags.0");
      }
      const ok = await send("", { method: "POST", body: { data: {}, tags: ["a.b:c-d_e", "x".repeat(64)] } });
      expect(ok.status).toBe(201);
    });

    it("rejects more than 32 tags", async () => {
      const { send } = await setup();
      const tags = Array.from({ length: 33 }, (_, i) => `t${i}`);
      const res = await send("", { method: "POST", body: { data: {}, tags } });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("body.tags");
      expect((await send("", { method: "POST", body: { data: {}, tags: tags.slice(0, 32) } })).status).toBe(201);
    });

    it("rejects an unknown top-level field, naming it in an error on body", async () => {
      const { send, entryId } = await setup();
      for (const [method, path] of [
        ["POST", ""],
        ["PUT", `/${entryId}`],
      ] as const) {
        const res = await send(path, { method, body: { data: {}, extra: 1 } });
        expectProblem(res, 400, "validation-error");
        // zod reports unknown keys on the object that holds them, naming the key in the message.
        expect(res.json.errors).toEqual([
          { path: "body", code: "unrecognized_keys", message: expect.stringContaining('"extra"') },
        ]);
      }
    });

    it("lists every failing field at once", async () => {
      const { send } = await setup();
      const res = await send("", { method: "POST", body: { tags: [1] } });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toEqual(expect.arrayContaining(["body.data", "body.tags.0"]));
    });

    it("rejects a JSON array or scalar as the whole body", async () => {
      const { send } = await setup();
      for (const body of ["[]", "1", '"data"', "null"]) {
        expectProblem(await send("", { method: "POST", body }), 400, "validation-error");
      }
    });

    it("accepts data of exactly 64 KiB of JSON and rejects one byte more", async () => {
      const { send } = await setup();
      const envelope = JSON.stringify({ v: "" }).length;
      const exact = { v: "x".repeat(64 * 1024 - envelope) };
      const ok = await send("", { method: "POST", body: { data: exact } });
      expect(ok.status, ok.text).toBe(201);
      expect(ok.json.size_bytes).toBe(64 * 1024);

      const res = await send("", { method: "POST", body: { data: { v: `${exact.v}x` } } });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("body.data");
    });

    it("measures the 64 KiB limit in UTF-8 bytes, not characters", async () => {
      const { send, entryId } = await setup();
      // 40,000 characters of "é" are 80,000 bytes.
      const data = { v: "é".repeat(40_000) };
      const res = await send("", { method: "POST", body: { data } });
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("body.data");
      const put = await send(`/${entryId}`, { method: "PUT", body: { data } });
      expectProblem(put, 400, "validation-error");
    });

    it("answers 413 for a body over the 1 MiB request limit", async () => {
      const { send } = await setup();
      const res = await send("", { method: "POST", body: { data: { v: "x".repeat(1024 * 1024 + 1) } } });
      expectProblem(res, 413, "payload-too-large");
    });

    it("answers malformed-json for a body that is not JSON", async () => {
      const { send, entryId } = await setup();
      expectProblem(await send("", { method: "POST", body: '{"data": {' }), 400, "malformed-json");
      expectProblem(await send(`/${entryId}`, { method: "PUT", body: "not json" }), 400, "malformed-json");
    });

    it("answers 415 for a text/plain body", async () => {
      const { send, entryId } = await setup();
      const body = JSON.stringify({ data: { a: 1 } });
      const headers = { "Content-Type": "text/plain" };
      expectProblem(await send("", { method: "POST", body, headers }), 415, "unsupported-media-type");
      expectProblem(await send(`/${entryId}`, { method: "PUT", body, headers }), 415, "unsupported-media-type");
    });

    it("does not change the entry when a replace is rejected", async () => {
      const { send, entryId } = await setup();
      await send(`/${entryId}`, { method: "PUT", body: { data: "nope" } });
      await send(`/${entryId}`, { method: "PUT", body: "{" });
      const res = await send(`/${entryId}`);
      expect(res.json).toMatchObject({ version: 1, data: { a: 1 }, tags: ["t"] });
    });
  });

  describe("validation of the list query", () => {
    it("rejects limit=0 and limit=101 and accepts 1 and 100", async () => {
      const { send } = await setup();
      for (const limit of ["0", "101", "-1", "2.5", "many", "0x10", "1e1", "+5", " 1", "1000"]) {
        const res = await send(`?limit=${encodeURIComponent(limit)}`);
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res)).toContain("query.limit");
      }
      expect((await send("?limit=1")).status).toBe(200);
      expect((await send("?limit=100")).status).toBe(200);
    });

    it("rejects a malformed cursor", async () => {
      const { send } = await setup();
      for (const cursor of ["!!!", "not-a-cursor", btoa("ent_short"), "x".repeat(201)]) {
        const res = await send(`?cursor=${encodeURIComponent(cursor)}`);
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res)).toContain("query.cursor");
      }
    });

    it("rejects a malformed cursor on a tag-filtered list too", async () => {
      const { send } = await setup();
      expectProblem(await send("?tag=t&cursor=%25%25"), 400, "validation-error");
    });

    it("rejects a tag filter that no tag could match", async () => {
      const { send } = await setup();
      const res = await send(`?tag=${encodeURIComponent("bad tag")}`);
      expectProblem(res, 400, "validation-error");
      expect(errorPaths(res)).toContain("query.tag");
    });
  });

  describe("entry ids", () => {
    it("answers 404 not-found for a well-formed id that no entry has", async () => {
      const { send } = await setup();
      expectProblem(await send(`/${UNKNOWN_ENTRY}`), 404, "not-found");
      expectProblem(await send(`/${UNKNOWN_ENTRY}`, { method: "PUT", body: { data: {} } }), 404, "not-found");
      expectProblem(await send(`/${UNKNOWN_ENTRY}`, { method: "DELETE" }), 404, "not-found");
      expectProblem(
        await send(`/${UNKNOWN_ENTRY}`, { method: "DELETE", headers: { "If-Match": "*" } }),
        404,
        "not-found",
      );
    });

    it("answers 400 validation-error naming path.entryId for a malformed id", async () => {
      const { send, entryId } = await setup();
      for (const bad of ["nope", entryId.toLowerCase(), entryId.replace("ent_", "key_"), `${entryId}0`]) {
        const res = await send(`/${bad}`);
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res)).toContain("path.entryId");
      }
      const put = await send("/nope", { method: "PUT", body: { data: {} } });
      expectProblem(put, 400, "validation-error");
      expectProblem(await send("/nope", { method: "DELETE" }), 400, "validation-error");
    });

    it("answers 405 for a method the entry routes do not have", async () => {
      const { send, entryId } = await setup();
      const res = await send(`/${entryId}`, { method: "PATCH", body: { data: {} } });
      expectProblem(res, 405, "method-not-allowed");
      expect(res.headers.get("Allow")).toContain("PUT");
    });
  });

  describe("preconditions", () => {
    it("treats a weak If-Match tag as never matching, since If-Match uses strong comparison", async () => {
      const { send, entryId } = await setup();
      const res = await send(`/${entryId}`, { method: "PUT", headers: { "If-Match": 'W/"1"' }, body: { data: {} } });
      expectProblem(res, 412, "precondition-failed");
      expect(res.headers.get("ETag")).toBe('"1"');
    });

    it("matches only this API's spelling of a version: a zero-padded tag names none", async () => {
      const { send, entryId } = await setup();
      const put = await send(`/${entryId}`, { method: "PUT", headers: { "If-Match": '"01"' }, body: { data: {} } });
      expectProblem(put, 412, "precondition-failed");
      expectProblem(
        await send(`/${entryId}`, { method: "DELETE", headers: { "If-Match": '"001"' } }),
        412,
        "precondition-failed",
      );
      expect((await send(`/${entryId}`)).json.version).toBe(1);
    });

    it("refuses a PUT or DELETE with If-None-Match naming the current version, or *, and allows one naming another", async () => {
      const { send, entryId } = await setup();
      for (const value of ['"1"', 'W/"1"', '"7", "1"', '"7", *', "*"]) {
        const headers = { "If-None-Match": value };
        expectProblem(
          await send(`/${entryId}`, { method: "PUT", headers, body: { data: { b: 2 } } }),
          412,
          "precondition-failed",
        );
        expectProblem(await send(`/${entryId}`, { method: "DELETE", headers }), 412, "precondition-failed");
      }
      expect((await send(`/${entryId}`)).json).toMatchObject({ version: 1, data: { a: 1 } });
      const put = await send(`/${entryId}`, {
        method: "PUT",
        headers: { "If-None-Match": '"7"' },
        body: { data: { b: 2 } },
      });
      expect(put.status).toBe(200);
      expect((await send(`/${entryId}`, { method: "DELETE", headers: { "If-None-Match": '"1"' } })).status).toBe(204);
    });

    it("answers a GET with 304 for a weak If-None-Match of the current version, and 412 for a failed If-Match", async () => {
      const { send, entryId } = await setup();
      expect((await send(`/${entryId}`, { headers: { "If-None-Match": 'W/"1"' } })).status).toBe(304);
      const failed = await send(`/${entryId}`, { headers: { "If-Match": '"999"' } });
      expectProblem(failed, 412, "precondition-failed");
      expect(failed.headers.get("ETag")).toBe('"1"');
      expect((await send(`/${entryId}`, { headers: { "If-Match": '"1"' } })).status).toBe(200);
    });

    it("answers 412 to a PUT with If-None-Match: *, since the entry exists, and changes nothing", async () => {
      const { send, entryId } = await setup();
      const headers = { "If-None-Match": "*" };
      const res = await send(`/${entryId}`, { method: "PUT", headers, body: { data: { b: 2 } } });
      expectProblem(res, 412, "precondition-failed");
      expect(res.headers.get("ETag")).toBe('"1"');
      expect((await send(`/${entryId}`)).json).toMatchObject({ version: 1, data: { a: 1 } });
      expectProblem(await send(`/${UNKNOWN_ENTRY}`, { method: "PUT", headers, body: { data: {} } }), 404, "not-found");
    });

    it("treats an unparseable If-Match as never matching", async () => {
      const { send, entryId } = await setup();
      const res = await send(`/${entryId}`, { method: "DELETE", headers: { "If-Match": "1" } });
      expectProblem(res, 412, "precondition-failed");
      expect((await send(`/${entryId}`)).status).toBe(200);
    });
  });

  describe("authentication and scopes", () => {
    it("answers 401 without an API key", async () => {
      const { base, entryId } = await setup();
      expectProblem(await call(base), 401, "unauthenticated");
      expectProblem(await call(`${base}/${entryId}`, { method: "DELETE" }), 401, "unauthenticated");
    });

    it("refuses writes with 403 insufficient-scope to a key with only entries:read, but lets it read", async () => {
      const { admin, tenant, base, entryId } = await setup();
      const { secret } = await tenantKey(admin, tenant.id, ["entries:read"]);

      const post = await call(base, { method: "POST", key: secret, body: { data: {} } });
      expectProblem(post, 403, "insufficient-scope");
      expect(post.json.required_scopes).toEqual(["entries:write"]);
      expectProblem(
        await call(`${base}/${entryId}`, { method: "PUT", key: secret, body: { data: { b: 2 } } }),
        403,
        "insufficient-scope",
      );
      expectProblem(await call(`${base}/${entryId}`, { method: "DELETE", key: secret }), 403, "insufficient-scope");

      const read = await call(`${base}/${entryId}`, { key: secret });
      expect(read.status).toBe(200);
      expect(read.json).toMatchObject({ version: 1, data: { a: 1 } });
      const list = await call(base, { key: secret });
      expect(list.status).toBe(200);
      expect(list.json.data).toHaveLength(1);
    });

    it("refuses reads with 403 insufficient-scope to a key without entries:read", async () => {
      const { admin, tenant, base, entryId } = await setup();
      const { secret } = await tenantKey(admin, tenant.id, ["entries:write"]);
      expectProblem(await call(base, { key: secret }), 403, "insufficient-scope");
      expectProblem(await call(`${base}/${entryId}`, { key: secret }), 403, "insufficient-scope");
      expectProblem(await call(`${base}?tag=t`, { key: secret }), 403, "insufficient-scope");
    });

    it("refuses a key holding only tenant:admin on both reads and writes", async () => {
      const { admin, tenant, base, entryId } = await setup();
      const { secret } = await tenantKey(admin, tenant.id, ["tenant:admin"]);
      expectProblem(await call(`${base}/${entryId}`, { key: secret }), 403, "insufficient-scope");
      expectProblem(await call(base, { method: "POST", key: secret, body: { data: {} } }), 403, "insufficient-scope");
    });
  });

  describe("tenant boundaries", () => {
    it("answers 404 not-found to tenant B's key on every entry route of tenant A", async () => {
      const a = await setup();
      const b = await setup();
      const asB = (path: string, options: Call = {}) => call(`${a.base}${path}`, { key: b.key, ...options });

      expectProblem(await asB(""), 404, "not-found");
      expectProblem(await asB("", { method: "POST", body: { data: {} } }), 404, "not-found");
      expectProblem(await asB(`/${a.entryId}`), 404, "not-found");
      expectProblem(
        await asB(`/${a.entryId}`, { method: "PUT", body: { data: { hijacked: true } } }),
        404,
        "not-found",
      );
      expectProblem(await asB(`/${a.entryId}`, { method: "DELETE" }), 404, "not-found");
      expectProblem(await asB(`/${UNKNOWN_ENTRY}`), 404, "not-found");

      const still = await a.send(`/${a.entryId}`);
      expect(still.json).toMatchObject({ version: 1, data: { a: 1 } });
      expect((await a.send("")).json.data).toHaveLength(1);
    });

    it("answers the same 404 to tenant B whether or not tenant A's entry exists", async () => {
      const a = await setup();
      const b = await setup();
      const existing = await call(`${a.base}/${a.entryId}`, { key: b.key });
      const missing = await call(`${a.base}/${UNKNOWN_ENTRY}`, { key: b.key });
      expectProblem(existing, 404, "not-found");
      expectProblem(missing, 404, "not-found");
      expect(existing.json.detail).toBe(missing.json.detail);
    });

    it("does not find tenant A's entry id under tenant B's own path", async () => {
      const a = await setup();
      const b = await setup();
      expectProblem(await b.send(`/${a.entryId}`), 404, "not-found");
      expectProblem(await b.send(`/${a.entryId}`, { method: "PUT", body: { data: {} } }), 404, "not-found");
      expectProblem(await b.send(`/${a.entryId}`, { method: "DELETE" }), 404, "not-found");
      expect((await b.send("?tag=t")).json.data.map((e: { id: string }) => e.id)).toEqual([b.entryId]);
      expect((await a.send(`/${a.entryId}`)).status).toBe(200);
    });

    it("answers 404 not-found to the platform admin for a tenant that does not exist", async () => {
      const admin = await adminKey();
      const res = await call("/v1/tenants/ten_01JD8X5Q3M2V7T6R4N9K0B1C2D/entries", { key: admin });
      expectProblem(res, 404, "not-found");
    });
  });

  describe("a suspended tenant", () => {
    async function suspended() {
      const ctx = await setup();
      const res = await call(`/v1/tenants/${ctx.tenant.id}`, {
        method: "PATCH",
        key: ctx.admin,
        body: { status: "SUSPENDED" },
      });
      expect(res.status, res.text).toBe(200);
      return ctx;
    }

    it("refuses its own key with 403 tenant-suspended on reads and writes", async () => {
      const { send, entryId } = await suspended();
      expectProblem(await send(""), 403, "tenant-suspended");
      expectProblem(await send(`/${entryId}`), 403, "tenant-suspended");
      expectProblem(await send("", { method: "POST", body: { data: {} } }), 403, "tenant-suspended");
      expectProblem(await send(`/${entryId}`, { method: "PUT", body: { data: {} } }), 403, "tenant-suspended");
      expectProblem(await send(`/${entryId}`, { method: "DELETE" }), 403, "tenant-suspended");
    });

    it("answers the platform admin with 409 tenant-not-ready on its entries", async () => {
      const { admin, base, entryId } = await suspended();
      expectProblem(await call(base, { key: admin }), 409, "tenant-not-ready");
      expectProblem(await call(`${base}/${entryId}`, { key: admin }), 409, "tenant-not-ready");
      expectProblem(await call(base, { method: "POST", key: admin, body: { data: {} } }), 409, "tenant-not-ready");
      expectProblem(await call(`${base}/${entryId}`, { method: "DELETE", key: admin }), 409, "tenant-not-ready");
    });

    it("serves its entries again, unchanged, once it is resumed", async () => {
      const { admin, tenant, send, entryId } = await suspended();
      const resumed = await call(`/v1/tenants/${tenant.id}`, {
        method: "PATCH",
        key: admin,
        body: { status: "ACTIVE" },
      });
      expect(resumed.status).toBe(200);
      const res = await send(`/${entryId}`);
      expect(res.status).toBe(200);
      expect(res.json).toMatchObject({ version: 1, data: { a: 1 } });
    });
  });
}
