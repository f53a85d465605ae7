import { describe, expect, it } from "vitest";
import { call, expectProblem } from "../../helpers";
import { type Entry, entriesFixture, type Page } from "../fixture";

/** The shared fixture plus a lister that expects 200. */
async function setup() {
  const fixture = await entriesFixture();
  const { send } = fixture;
  const list = async (query = "") => {
    const res = await send(query);
    expect(res.status, res.text).toBe(200);
    return res.json as Page;
  };
  return { ...fixture, list };
}

/** Follows next_cursor from the first page to the last, returning every page. */
async function walk(list: (query: string) => Promise<Page>, query: string) {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const page: Page = await list(cursor ? `${query}&cursor=${encodeURIComponent(cursor)}` : query);
    pages.push(page);
    cursor = page.next_cursor;
    if (pages.length > 50) throw new Error("pagination does not terminate");
  } while (cursor !== null);
  return pages;
}

/** Newest first is id order, descending (ids are ULIDs). */
const newestFirst = (ids: string[]) => [...ids].sort().reverse();

/** The entries API: create, read, replace, delete, list, idempotent creation. */
export function entryRoutesBehaviour() {
  describe("creating and reading an entry", () => {
    it('creates an entry with version 1, an ETag of "1" and a Location pointing at it', async () => {
      const { tenant, send } = await setup();
      const res = await send("", { method: "POST", body: { data: { title: "hello", n: 1 }, tags: ["a", "b"] } });
      expect(res.status).toBe(201);
      expect(res.headers.get("ETag")).toBe('"1"');
      expect(res.json.id).toMatch(/^ent_[0-9A-HJKMNP-TV-Z]{26}$/);
      expect(res.headers.get("Location")).toBe(`/v1/tenants/${tenant.id}/entries/${res.json.id}`);
      expect(res.json).toMatchObject({ data: { title: "hello", n: 1 }, tags: ["a", "b"], version: 1 });
      expect(res.json.size_bytes).toBe(JSON.stringify({ title: "hello", n: 1 }).length);
      expect(res.json.created_at).toBe(res.json.updated_at);
      expect(Date.parse(res.json.created_at)).not.toBeNaN();
    });

    it("defaults tags to an empty list when they are left out", async () => {
      const { create } = await setup();
      const entry = await create({ data: {} });
      expect(entry.tags).toEqual([]);
      expect(entry.data).toEqual({});
    });

    it("returns the entry with its version as the ETag", async () => {
      const { send, create } = await setup();
      const created = await create({ data: { nested: { list: [1, "two", null, true] } }, tags: ["x"] });
      const res = await send(`/${created.id}`);
      expect(res.status).toBe(200);
      expect(res.headers.get("ETag")).toBe('"1"');
      expect(res.json).toEqual(created);
    });

    it("follows the Location header of a created entry back to the same entry", async () => {
      const { key, send } = await setup();
      const created = await send("", { method: "POST", body: { data: { a: 1 } } });
      const res = await call(created.headers.get("Location") as string, { key });
      expect(res.status).toBe(200);
      expect(res.json).toEqual(created.json);
    });

    it("answers 304 with the ETag and no body when If-None-Match holds the current ETag", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      const res = await send(`/${id}`, { headers: { "If-None-Match": '"1"' } });
      expect(res.status).toBe(304);
      expect(res.headers.get("ETag")).toBe('"1"');
      expect(res.text).toBe("");
    });

    it("answers 304 when the current ETag is anywhere in an If-None-Match list, or the list is *", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      expect((await send(`/${id}`, { headers: { "If-None-Match": '"7", "1"' } })).status).toBe(304);
      expect((await send(`/${id}`, { headers: { "If-None-Match": "*" } })).status).toBe(304);
    });

    it("answers 200 with the entry when If-None-Match holds an older ETag", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      await send(`/${id}`, { method: "PUT", body: { data: { a: 2 } } });
      const res = await send(`/${id}`, { headers: { "If-None-Match": '"1"' } });
      expect(res.status).toBe(200);
      expect(res.headers.get("ETag")).toBe('"2"');
      expect(res.json.data).toEqual({ a: 2 });
    });

    it("lets a platform-admin key write and read any tenant's entries", async () => {
      const { admin, base } = await setup();
      const created = await call(base, { method: "POST", key: admin, body: { data: { by: "admin" } } });
      expect(created.status).toBe(201);
      const res = await call(`${base}/${created.json.id}`, { key: admin });
      expect(res.status).toBe(200);
      expect(res.json.data).toEqual({ by: "admin" });
    });
  });

  describe("replacing an entry", () => {
    it("replaces data and tags when If-Match holds the current ETag, and bumps the version to 2", async () => {
      const { send, create } = await setup();
      const created = await create({ data: { a: 1 }, tags: ["old"] });
      const res = await send(`/${created.id}`, {
        method: "PUT",
        headers: { "If-Match": '"1"' },
        body: { data: { b: "two" }, tags: ["new"] },
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("ETag")).toBe('"2"');
      expect(res.json).toMatchObject({ id: created.id, data: { b: "two" }, tags: ["new"], version: 2 });
      expect(res.json.created_at).toBe(created.created_at);
      expect(Date.parse(res.json.updated_at)).toBeGreaterThanOrEqual(Date.parse(created.updated_at));

      const read = await send(`/${created.id}`);
      expect(read.headers.get("ETag")).toBe('"2"');
      expect(read.json).toEqual(res.json);
    });

    it("replaces unconditionally when no If-Match is sent", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      const first = await send(`/${id}`, { method: "PUT", body: { data: { a: 2 } } });
      expect(first.status).toBe(200);
      expect(first.json.version).toBe(2);
      const second = await send(`/${id}`, { method: "PUT", body: { data: { a: 3 } } });
      expect(second.status).toBe(200);
      expect(second.headers.get("ETag")).toBe('"3"');
      expect(second.json).toMatchObject({ version: 3, data: { a: 3 } });
    });

    it("refuses a stale If-Match with 412, sends the current ETag and leaves the entry unchanged", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      await send(`/${id}`, { method: "PUT", headers: { "If-Match": '"1"' }, body: { data: { a: 2 } } });

      const res = await send(`/${id}`, {
        method: "PUT",
        headers: { "If-Match": '"1"' },
        body: { data: { a: "lost" } },
      });
      expectProblem(res, 412, "precondition-failed");
      expect(res.headers.get("ETag")).toBe('"2"');

      const read = await send(`/${id}`);
      expect(read.json).toMatchObject({ version: 2, data: { a: 2 } });
    });

    it("accepts If-Match * for an entry that exists", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      const res = await send(`/${id}`, { method: "PUT", headers: { "If-Match": "*" }, body: { data: { a: 2 } } });
      expect(res.status).toBe(200);
      expect(res.headers.get("ETag")).toBe('"2"');
    });

    it("accepts an If-Match list that contains the current ETag", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      const res = await send(`/${id}`, { method: "PUT", headers: { "If-Match": '"5", "1"' }, body: { data: {} } });
      expect(res.status).toBe(200);
      expect(res.json.version).toBe(2);
    });

    it("applies concurrent PUTs sent without If-Match one after another, never answering 412", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { n: 0 } });
      const results = await Promise.all(
        [1, 2, 3, 4, 5].map((n) => send(`/${id}`, { method: "PUT", body: { data: { n } } })),
      );
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200, 200]);
      expect(results.map((r) => r.json.version).sort()).toEqual([2, 3, 4, 5, 6]);
      expect((await send(`/${id}`)).headers.get("ETag")).toBe('"6"');
    });

    it("recomputes size_bytes from the new data", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      const data = { text: "a longer value than before" };
      const res = await send(`/${id}`, { method: "PUT", body: { data } });
      expect(res.json.size_bytes).toBe(JSON.stringify(data).length);
    });
  });

  describe("deleting an entry", () => {
    it("deletes with 204 after which the entry is 404", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      const res = await send(`/${id}`, { method: "DELETE" });
      expect(res.status).toBe(204);
      expect(res.text).toBe("");
      expectProblem(await send(`/${id}`), 404, "not-found");
      expectProblem(await send(`/${id}`, { method: "DELETE" }), 404, "not-found");
      expectProblem(await send(`/${id}`, { method: "PUT", body: { data: {} } }), 404, "not-found");
    });

    it("refuses a delete with a stale If-Match with 412 and keeps the entry", async () => {
      const { send, create } = await setup();
      const { id } = await create({ data: { a: 1 } });
      await send(`/${id}`, { method: "PUT", body: { data: { a: 2 } } });

      const res = await send(`/${id}`, { method: "DELETE", headers: { "If-Match": '"1"' } });
      expectProblem(res, 412, "precondition-failed");
      expect(res.headers.get("ETag")).toBe('"2"');
      expect((await send(`/${id}`)).status).toBe(200);
    });

    it("deletes when If-Match holds the current ETag or is *", async () => {
      const { send, create } = await setup();
      const first = await create({ data: { a: 1 } });
      const second = await create({ data: { a: 2 } });
      expect((await send(`/${first.id}`, { method: "DELETE", headers: { "If-Match": '"1"' } })).status).toBe(204);
      expect((await send(`/${second.id}`, { method: "DELETE", headers: { "If-Match": "*" } })).status).toBe(204);
      expectProblem(await send(`/${first.id}`), 404, "not-found");
      expectProblem(await send(`/${second.id}`), 404, "not-found");
    });

    it("drops a deleted entry from the list and from its tags", async () => {
      const { send, create, list } = await setup();
      const kept = await create({ data: { a: 1 }, tags: ["t"] });
      const gone = await create({ data: { a: 2 }, tags: ["t"] });
      await send(`/${gone.id}`, { method: "DELETE" });
      expect((await list()).data.map((e) => e.id)).toEqual([kept.id]);
      expect((await list("?tag=t")).data.map((e) => e.id)).toEqual([kept.id]);
    });
  });

  describe("listing entries", () => {
    it("lists nothing for a tenant without entries", async () => {
      const { list } = await setup();
      expect(await list()).toEqual({ data: [], next_cursor: null });
    });

    it("walks 7 entries newest first in pages of 3, seeing each exactly once", async () => {
      const { create, list } = await setup();
      const created: Entry[] = [];
      for (let i = 0; i < 7; i++) created.push(await create({ data: { i } }));

      const pages = await walk(list, "?limit=3");
      expect(pages.map((p) => p.data.length)).toEqual([3, 3, 1]);
      expect(pages.slice(0, -1).every((p) => typeof p.next_cursor === "string")).toBe(true);
      expect(pages.at(-1)?.next_cursor).toBeNull();

      const seen = pages.flatMap((p) => p.data.map((e) => e.id));
      expect(new Set(seen).size).toBe(7);
      expect(seen).toEqual(newestFirst(created.map((e) => e.id)));
      expect(seen).toEqual(created.map((e) => e.id).reverse());
      expect(pages.flatMap((p) => p.data)).toEqual([...created].reverse());
    });

    it("ends with a null next_cursor when the last page is exactly full", async () => {
      const { create, list } = await setup();
      for (let i = 0; i < 6; i++) await create({ data: { i } });
      const pages = await walk(list, "?limit=3");
      expect(pages.map((p) => p.data.length)).toEqual([3, 3]);
      expect(pages[1]?.next_cursor).toBeNull();
    });

    it("returns up to 20 entries when no limit is given", async () => {
      const { create, list } = await setup();
      for (let i = 0; i < 21; i++) await create({ data: { i } });
      const first = await list();
      expect(first.data).toHaveLength(20);
      expect(first.next_cursor).not.toBeNull();
      const rest = await list(`?cursor=${first.next_cursor}`);
      expect(rest.data).toHaveLength(1);
      expect(rest.next_cursor).toBeNull();
    });

    it("lists only the entries carrying the tag asked for", async () => {
      const { create, list } = await setup();
      const red1 = await create({ data: { n: 1 }, tags: ["red"] });
      await create({ data: { n: 2 }, tags: ["blue"] });
      const red2 = await create({ data: { n: 3 }, tags: ["blue", "red"] });
      await create({ data: { n: 4 } });

      const res = await list("?tag=red");
      expect(res.data.map((e) => e.id)).toEqual(newestFirst([red1.id, red2.id]));
      expect(res.data.every((e) => e.tags.includes("red"))).toBe(true);
      expect(res.next_cursor).toBeNull();
      expect(await list("?tag=green")).toEqual({ data: [], next_cursor: null });
    });

    it("paginates a tag filter with the cursor", async () => {
      const { create, list } = await setup();
      const tagged: string[] = [];
      for (let i = 0; i < 8; i++) {
        const entry = await create({ data: { i }, tags: i % 2 === 0 ? ["even", "all"] : ["all"] });
        if (i % 2 === 0) tagged.push(entry.id);
      }

      const pages = await walk(list, "?tag=even&limit=3");
      expect(pages.map((p) => p.data.length)).toEqual([3, 1]);
      expect(pages.at(-1)?.next_cursor).toBeNull();
      const seen = pages.flatMap((p) => p.data.map((e) => e.id));
      expect(seen).toEqual(newestFirst(tagged));

      const all = (await walk(list, "?tag=all&limit=2")).flatMap((p) => p.data.map((e) => e.id));
      expect(all).toHaveLength(8);
      expect(new Set(all).size).toBe(8);
    });

    it("serves a full page of 100 through a tag filter", async () => {
      const { send, list } = await setup();
      const created: string[] = [];
      // Ten at a time: within the plan's concurrency limit.
      for (let start = 0; start < 101; start += 10) {
        const batch = Array.from({ length: Math.min(10, 101 - start) }, async (_, i) => {
          const res = await send("", { method: "POST", body: { data: { i: start + i }, tags: ["many"] } });
          expect(res.status, res.text).toBe(201);
          return res.json.id as string;
        });
        created.push(...(await Promise.all(batch)));
      }
      const first = await list("?tag=many&limit=100");
      expect(first.data).toHaveLength(100);
      expect(first.data.map((e) => e.id)).toEqual(newestFirst(created).slice(0, 100));
      const rest = await list(`?tag=many&limit=100&cursor=${first.next_cursor}`);
      expect(rest.data.map((e) => e.id)).toEqual(newestFirst(created).slice(100));
    });

    it("keeps the tag index in step when a replace removes or adds a tag", async () => {
      const { send, create, list } = await setup();
      const entry = await create({ data: { a: 1 }, tags: ["keep", "drop"] });
      expect((await list("?tag=drop")).data.map((e) => e.id)).toEqual([entry.id]);

      const res = await send(`/${entry.id}`, { method: "PUT", body: { data: { a: 2 }, tags: ["keep", "added"] } });
      expect(res.status).toBe(200);
      expect((await list("?tag=drop")).data).toEqual([]);
      expect((await list("?tag=keep")).data.map((e) => e.id)).toEqual([entry.id]);
      expect((await list("?tag=added")).data.map((e) => e.id)).toEqual([entry.id]);

      await send(`/${entry.id}`, { method: "PUT", body: { data: { a: 3 } } });
      expect((await list("?tag=keep")).data).toEqual([]);
      expect((await list("?tag=added")).data).toEqual([]);
    });

    it("stores duplicate tags once and lists the entry once under that tag", async () => {
      const { send, create, list } = await setup();
      const entry = await create({ data: {}, tags: ["dup", "dup", "other", "dup"] });
      expect(entry.tags).toEqual(["dup", "other"]);
      expect((await send(`/${entry.id}`)).json.tags).toEqual(["dup", "other"]);
      expect((await list("?tag=dup")).data.map((e) => e.id)).toEqual([entry.id]);

      const replaced = await send(`/${entry.id}`, { method: "PUT", body: { data: {}, tags: ["x", "x"] } });
      expect(replaced.json.tags).toEqual(["x"]);
    });

    it("treats tags as case-sensitive", async () => {
      const { create, list } = await setup();
      const upper = await create({ data: {}, tags: ["Tag"] });
      const lower = await create({ data: {}, tags: ["tag"] });
      expect((await list("?tag=Tag")).data.map((e) => e.id)).toEqual([upper.id]);
      expect((await list("?tag=tag")).data.map((e) => e.id)).toEqual([lower.id]);
    });
  });

  describe("idempotent creation", () => {
    it("replays the first response for a repeated Idempotency-Key and creates one entry", async () => {
      const { send, list } = await setup();
      const request = { method: "POST", body: { data: { once: true } }, headers: { "Idempotency-Key": "create-once" } };
      const first = await send("", request);
      const second = await send("", request);
      expect(first.status).toBe(201);
      expect(second.status).toBe(201);
      expect(second.headers.get("Idempotent-Replayed")).toBe("true");
      expect(second.json).toEqual(first.json);
      expect(second.headers.get("ETag")).toBe('"1"');
      expect((await list()).data).toHaveLength(1);
    });
  });
}
