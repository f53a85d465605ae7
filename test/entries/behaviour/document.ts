import { describe, expect, it } from "vitest";
import { errorPaths, expectProblem } from "../../helpers";
import { entriesFixture } from "../fixture";

/** `depth` arrays inside one another around a 1, as JSON text: `[[1]]` is depth 2. */
const nestedArrays = (depth: number) => `${"[".repeat(depth)}1${"]".repeat(depth)}`;
/** `depth` objects inside one another, as JSON text: `{"a":{"a":1}}` is depth 2. */
const nestedObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;

/** The body of a write whose `data.v` is this JSON text, sent as it is. */
const bodyWith = (json: string) => `{"data":{"v":${json}}}`;

async function setup() {
  const fixture = await entriesFixture();
  const existing = await fixture.create({ data: { kept: true } });
  /** Sends the same body as a create and as a replace of the existing entry. */
  const writeBoth = async (body: string) => [
    await fixture.send("", { method: "POST", body }),
    await fixture.send(`/${existing.id}`, { method: "PUT", body }),
  ];
  return { ...fixture, existing, writeBoth };
}

/**
 * The document model both engines hold to: what is refused with 400 before any shard sees it,
 * and what is stored and given back exactly.
 */
export function entryDocumentBehaviour() {
  describe("the entry document model", () => {
    it("refuses a NUL character in a value or a key, naming where it is", async () => {
      const { writeBoth, send, existing } = await setup();
      for (const [body, path] of [
        [bodyWith('"a\\u0000b"'), "body.data.v"],
        [bodyWith('["ok", {"deep": "\\u0000"}]'), "body.data.v.1.deep"],
        ['{"data":{"a\\u0000b":1}}', "body.data.a\u0000b"],
      ] as const) {
        for (const res of await writeBoth(body)) {
          expectProblem(res, 400, "validation-error");
          expect(errorPaths(res), body).toContain(path);
          expect(JSON.stringify(res.json.errors)).toMatch(/U\+0000/);
        }
      }
      expect((await send(`/${existing.id}`)).json).toMatchObject({ version: 1, data: { kept: true } });
    });

    it("refuses a lone surrogate in a value or a key, and keeps well-formed pairs exactly", async () => {
      const { writeBoth, create, send } = await setup();
      for (const [body, path] of [
        [bodyWith('"\\ud800"'), "body.data.v"],
        [bodyWith('"x\\udc00y"'), "body.data.v"],
        [bodyWith('["\\ud83d"]'), "body.data.v.0"],
        ['{"data":{"\\ud800":1}}', "body.data.\ud800"],
      ] as const) {
        for (const res of await writeBoth(body)) {
          expectProblem(res, 400, "validation-error");
          expect(errorPaths(res), body).toContain(path);
        }
      }
      const data = { "😀": "a pair \ud83d\ude00, é, \u2028, \uffff, \u0001\u001f" };
      const created = await create({ data });
      expect(created.data).toEqual(data);
      expect((await send(`/${created.id}`)).json.data).toEqual(data);
    });

    it("accepts data nested 64 levels deep and refuses one level more, arrays or objects", async () => {
      const { writeBoth, create } = await setup();
      // `data` itself is the first level; what `v` holds starts at the second.
      const deepest = await create(JSON.parse(bodyWith(nestedArrays(63))));
      expect(JSON.stringify(deepest.data)).toBe(`{"v":${nestedArrays(63)}}`);
      await create(JSON.parse(bodyWith(nestedObjects(63))));
      for (const json of [nestedArrays(64), nestedObjects(64)]) {
        for (const res of await writeBoth(bodyWith(json))) {
          expectProblem(res, 400, "validation-error");
          expect(res.json.errors).toEqual([
            expect.objectContaining({
              path: expect.stringMatching(/^body\.data\.v/),
              message: expect.stringMatching(/65/),
            }),
          ]);
        }
      }
    });

    it("answers 400, not 500, for data nested 20,000 deep or as deep as 1 MiB allows", async () => {
      const { writeBoth } = await setup();
      for (const depth of [10_000, 20_000, 500_000]) {
        for (const res of await writeBoth(bodyWith(nestedArrays(depth)))) {
          expectProblem(res, 400, "validation-error");
          expect(errorPaths(res)).toHaveLength(1);
        }
      }
    });

    it("refuses the key __proto__ at any depth rather than drop it", async () => {
      const { writeBoth, send, existing } = await setup();
      for (const [body, path] of [
        ['{"data":{"__proto__":{"x":1},"keep":1}}', "body.data.__proto__"],
        ['{"data":{"a":[{"__proto__":null}]}}', "body.data.a.0.__proto__"],
      ] as const) {
        for (const res of await writeBoth(body)) {
          expectProblem(res, 400, "validation-error");
          expect(errorPaths(res), body).toContain(path);
        }
      }
      expect((await send(`/${existing.id}`)).json.data).toEqual({ kept: true });
    });

    it("stores keys that are only special to JavaScript objects, such as constructor and prototype", async () => {
      const { create, send } = await setup();
      const data = { constructor: { prototype: 1 }, toString: "x", hasOwnProperty: [] };
      const created = await create({ data });
      expect((await send(`/${created.id}`)).json.data).toEqual(data);
    });

    it("refuses a number too large for a double instead of storing null", async () => {
      const { writeBoth } = await setup();
      for (const res of await writeBoth(bodyWith("1e400"))) {
        expectProblem(res, 400, "validation-error");
        expect(errorPaths(res)).toContain("body.data.v");
      }
    });

    it("refuses a number written past 2^53 that a double would round, and keeps every number it holds", async () => {
      const { writeBoth, send } = await setup();
      for (const literal of [
        "12345678901234567890",
        "9007199254740993",
        "-9007199254740993",
        "9007199254740993.0",
        "12345678901234567890.5",
        "1152921504606846976",
      ]) {
        for (const res of await writeBoth(`{"data":{"n":[1,{"id":${literal}}],"bad":"\\u0000"}}`)) {
          expectProblem(res, 400, "validation-error");
          // Every problem of the document at once, the rounded number among them.
          expect(errorPaths(res).sort(), literal).toEqual(["body.data.bad", "body.data.n.1.id"]);
          expect(JSON.stringify(res.json.errors)).toContain(literal);
        }
      }
      // Exactly a double, or written as a floating-point number: stored as that double.
      const body =
        '{"data":{"max":9007199254740991,"two53":9007199254740992,"e20":100000000000000000000,"float":1.2345678901234567891e19,"big":1e300,"small":5e-324,"zero":0e5,"x":0.1}}';
      const created = await send("", { method: "POST", body });
      expect(created.status, created.text).toBe(201);
      expect((await send(`/${created.json.id}`)).json.data).toEqual({
        max: 9007199254740991,
        two53: 9007199254740992,
        e20: 1e20,
        float: 12345678901234567000,
        big: 1e300,
        small: 5e-324,
        zero: 0,
        x: 0.1,
      });
    });

    it("refuses a number too small for a double instead of storing 0", async () => {
      const { writeBoth } = await setup();
      for (const literal of ["1e-400", "-2e-324"]) {
        for (const res of await writeBoth(bodyWith(literal))) {
          expectProblem(res, 400, "validation-error");
          expect(errorPaths(res)).toEqual(["body.data.v"]);
        }
      }
    });

    it("refuses a key that appears twice in one object, however it is spelled", async () => {
      const { writeBoth } = await setup();
      for (const [body, path] of [
        ['{"data":{"a":1,"a":2}}', "body.data.a"],
        ['{"data":{"a":1,"\\u0061":2}}', "body.data.a"],
        ['{"data":{"list":[{"k":1},{"k":1,"k":2}]}}', "body.data.list.1.k"],
        ['{"data":{"x":1},"data":{"y":2}}', "body.data"],
      ] as const) {
        for (const res of await writeBoth(body)) {
          expectProblem(res, 400, "validation-error");
          expect(errorPaths(res), body).toEqual([path]);
        }
      }
    });

    it("answers 400 malformed-json to a body that is not UTF-8, rather than store U+FFFD", async () => {
      const { send, existing } = await setup();
      const prefix = new TextEncoder().encode('{"data":{"v":"a');
      const suffix = new TextEncoder().encode('b"}}');
      for (const bad of [
        [0xff, 0xfe],
        [0xc0, 0x80],
        [0xed, 0xa0, 0x80],
      ]) {
        const body = new Uint8Array([...prefix, ...bad, ...suffix]);
        expectProblem(await send("", { method: "POST", body }), 400, "malformed-json");
        expectProblem(await send(`/${existing.id}`, { method: "PUT", body }), 400, "malformed-json");
      }
    });

    it("reports at most 20 problems of one document", async () => {
      const { send } = await setup();
      const values = Array.from({ length: 100 }, () => '"\\u0000"').join(",");
      const res = await send("", { method: "POST", body: bodyWith(`[${values}]`) });
      expectProblem(res, 400, "validation-error");
      expect(res.json.errors).toHaveLength(20);
    });
  });
}
