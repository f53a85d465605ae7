import { describe, expect, it } from "vitest";
import { jsonTextIssues, MAX_BODY_DEPTH, numberProblem } from "../../src/http/json-model";

const paths = (text: string) => jsonTextIssues(text).map((issue) => issue.path.join("."));

describe("the JSON model", () => {
  it("finds each problem at its path, through objects and arrays", () => {
    const text = `{"a":[1,{"b":"\\u0000"},"\\ud800"],"c":{"d":{"e":1e400}},"__proto__":1,"f":[[],[{"g":1,"g":2}]]}`;
    expect(paths(text).sort()).toEqual(["__proto__", "a.1.b", "a.2", "c.d.e", "f.1.0.g"]);
  });

  it("names a key by what it spells, escaped or not", () => {
    expect(paths('{"ab":1,"\\u0061b":2}')).toEqual(["ab"]);
    expect(paths('{"\\u005f_proto__":{}}')).toEqual(["__proto__"]);
    expect(paths('{"k\\u0000":1}')).toEqual(["k\u0000"]);
    // The same key in two objects, or in two objects of a list, is no duplicate.
    expect(paths('{"a":{"k":1},"b":{"k":1},"l":[{"k":1},{"k":2}]}')).toEqual([]);
  });

  it("keeps strings that are only unusual", () => {
    expect(paths('{"s":"\\u0001\\u001f\\uffff\\ud83d\\ude00 é \\" \\\\ \\/","":"empty key"}')).toEqual([]);
    expect(paths('"\\ud83d\\ude00"')).toEqual([]);
    expect(paths('["\\udc00\\ud800"]')).toEqual(["0"]);
  });

  it("tells numbers a double holds from those it would change", () => {
    for (const ok of [
      "0",
      "-0",
      "0.0",
      "0e5",
      "1.5",
      "0.1",
      "9007199254740991",
      "-9007199254740991",
      "9007199254740992",
      "9007199254740992.000",
      "100000000000000000000",
      "1e20",
      "1.2345678901234567891e19",
      "1e300",
      "1.7976931348623157e308",
      "5e-324",
      "0.1000000000000000055511151231257827",
    ]) {
      expect(numberProblem(ok), ok).toBeNull();
    }
    for (const bad of [
      "9007199254740993",
      "-9007199254740993",
      "12345678901234567890",
      "9007199254740993.0",
      "9007199254740992.5",
      "-12345678901234567890.5",
      "1152921504606846976",
      "18446744073709551616",
      "1000000000000000000000",
      "1e400",
      "-1.8e308",
      "1e-400",
      "-2e-324",
    ]) {
      expect(numberProblem(bad), bad).not.toBeNull();
    }
  });

  it("reports nesting past the bound once, and reads on past it", () => {
    const deep = (n: number) => `${"[".repeat(n)}${"]".repeat(n)}`;
    expect(jsonTextIssues(deep(MAX_BODY_DEPTH))).toEqual([]);
    const issues = jsonTextIssues(`[${deep(MAX_BODY_DEPTH)}, "\\u0000"]`);
    expect(issues.map((issue) => issue.path.length)).toEqual([MAX_BODY_DEPTH, 1]);
    expect(issues[1]?.path).toEqual([1]);
    expect(jsonTextIssues(deep(500_000))).toHaveLength(1);
  });

  it("lists at most 20 problems", () => {
    expect(jsonTextIssues(`[${Array(50).fill("1e400").join(",")}]`)).toHaveLength(20);
  });
});
