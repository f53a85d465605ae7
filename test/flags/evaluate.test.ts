import { describe, expect, it } from "vitest";
import { evaluate, holds, normalizedValue, pickVariant } from "../../src/flags/evaluate";
import { type Condition, type FlagConfig, fullConfig } from "../../src/flags/model";

const config = (fields: Partial<FlagConfig> = {}): FlagConfig => ({
  ...fullConfig("boolean", { default_value: false }),
  ...fields,
});
const condition = (c: Partial<Condition> & Pick<Condition, "attribute" | "operator">): Condition => ({
  case_insensitive: false,
  inverted: false,
  ...c,
});

describe("Unleash-compatible bucketing", () => {
  it("gives the bucket Unleash publishes for default:123", () => {
    // Unleash's SDKs: normalizedValue("123", "default") is 82 (seed 0, % 100 + 1).
    expect(normalizedValue("123", "default", 100)).toBe(82);
    // The same id in another group lands elsewhere: groups are independent rollouts.
    expect(normalizedValue("123", "other", 100)).not.toBe(82);
  });

  it("puts 25 % ± 1.5 % of 10,000 subjects in a 25 % rollout, and raising it to 50 % keeps every one of them", () => {
    const subjects = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);
    const at = (percentage: number) =>
      subjects.filter(
        (targetingKey) => evaluate("checkout", config({ rollout: { percentage } }), { targetingKey }).value === true,
      );
    const quarter = at(25);
    expect(quarter.length / subjects.length).toBeGreaterThanOrEqual(0.235);
    expect(quarter.length / subjects.length).toBeLessThanOrEqual(0.265);
    const half = new Set(at(50));
    expect(half.size / subjects.length).toBeGreaterThanOrEqual(0.485);
    expect(half.size / subjects.length).toBeLessThanOrEqual(0.515);
    for (const subject of quarter) expect(half.has(subject)).toBe(true);
    // Sticky: the same subject, evaluated again, gets the same answer.
    expect(at(25)).toEqual(quarter);
  });

  it("picks variants by weight with Unleash's variant seed, stable per subject", () => {
    const variants = [
      { name: "blue", weight: 1, value: "blue" },
      { name: "red", weight: 3, value: "red" },
    ];
    const counts = { blue: 0, red: 0 };
    for (let i = 0; i < 10_000; i++) {
      const variant = pickVariant(variants, `user-${i}`, "colors");
      counts[variant?.name as "blue" | "red"]++;
    }
    expect(counts.blue / 10_000).toBeGreaterThan(0.235);
    expect(counts.blue / 10_000).toBeLessThan(0.265);
    // A weight-0 variant is never picked; the target is hashed with seed 86028157 over the total weight.
    const target = normalizedValue("user-7", "colors", 4, 86028157);
    expect(pickVariant(variants, "user-7", "colors")?.name).toBe(target <= 1 ? "blue" : "red");
    expect(pickVariant([{ name: "off", weight: 0, value: 0 }, ...variants], "user-7", "colors")?.name).not.toBe("off");
  });
});

describe("evaluate", () => {
  it("answers each reason: STATIC, DISABLED, DEFAULT, SPLIT, TARGETING_MATCH, ERROR", () => {
    expect(evaluate("f", config(), {})).toMatchObject({ value: true, reason: "STATIC" });
    expect(evaluate("f", config({ enabled: false }), {})).toMatchObject({ value: false, reason: "DISABLED" });
    expect(evaluate("f", config({ rollout: { percentage: 0 } }), { targetingKey: "a" })).toMatchObject({
      value: false,
      reason: "DEFAULT",
    });
    expect(evaluate("f", config({ rollout: { percentage: 100 } }), {})).toMatchObject({ value: true, reason: "SPLIT" });
    expect(evaluate("f", config({ rollout: { percentage: 50 } }), {})).toMatchObject({
      value: false,
      reason: "ERROR",
      errorCode: "TARGETING_KEY_MISSING",
    });
    const targeted = config({
      rules: [{ conditions: [condition({ attribute: "tier", operator: "IN", values: ["ENTERPRISE"] })], value: true }],
      on_value: true,
    });
    expect(evaluate("f", targeted, { tier: "ENTERPRISE" })).toMatchObject({ value: true, reason: "TARGETING_MATCH" });
    // Rules that all miss with no rollout fall through to the default.
    expect(evaluate("f", targeted, { tier: "FREE" })).toMatchObject({ value: false, reason: "DEFAULT" });
  });

  it("serves a rule's variant with its payload, a split's variant to the rollout, the default to no one else", () => {
    const flag: FlagConfig = {
      ...fullConfig("json", { default_value: { layout: "old" } }),
      rollout: { percentage: 100 },
      variants: [
        { name: "a", weight: 50, value: { layout: "a" } },
        { name: "b", weight: 50, value: { layout: "b" } },
      ],
      rules: [
        {
          conditions: [condition({ attribute: "email", operator: "STR_ENDS_WITH", values: ["@acme.test"] })],
          variant: "b",
        },
      ],
    };
    expect(evaluate("layout", flag, { targetingKey: "u1", email: "x@acme.test" })).toMatchObject({
      value: { layout: "b" },
      variant: "b",
      reason: "TARGETING_MATCH",
    });
    const split = evaluate("layout", flag, { targetingKey: "u1" });
    expect(split.reason).toBe("SPLIT");
    expect(split.value).toEqual({ layout: split.variant });
    // Without the rollout, the rule is all that turns the flag on.
    expect(evaluate("layout", { ...flag, rollout: null }, { targetingKey: "u1" })).toMatchObject({
      value: { layout: "old" },
      reason: "DEFAULT",
    });
  });
});

describe("conditions", () => {
  const cases: [Partial<Condition> & Pick<Condition, "attribute" | "operator">, Record<string, unknown>, boolean][] = [
    [{ attribute: "country", operator: "IN", values: ["DE", "FR"] }, { country: "DE" }, true],
    [{ attribute: "country", operator: "IN", values: ["DE"] }, { country: "de" }, false],
    [{ attribute: "country", operator: "IN", values: ["DE"], case_insensitive: true }, { country: "de" }, true],
    [{ attribute: "country", operator: "NOT_IN", values: ["DE"] }, { country: "US" }, true],
    [{ attribute: "country", operator: "NOT_IN", values: ["DE"] }, {}, true],
    [{ attribute: "country", operator: "IN", values: ["DE"] }, {}, false],
    [{ attribute: "country", operator: "IN", values: ["DE"], inverted: true }, { country: "DE" }, false],
    [{ attribute: "email", operator: "STR_STARTS_WITH", values: ["ops-"] }, { email: "ops-1@x" }, true],
    [{ attribute: "email", operator: "STR_ENDS_WITH", values: ["@x.test"] }, { email: "a@y.test" }, false],
    [{ attribute: "path", operator: "STR_CONTAINS", values: ["beta"] }, { path: "/app/beta/1" }, true],
    [{ attribute: "age", operator: "NUM_EQ", value: "30" }, { age: 30 }, true],
    [{ attribute: "age", operator: "NUM_LT", value: "30" }, { age: "29.5" }, true],
    [{ attribute: "age", operator: "NUM_LTE", value: "30" }, { age: 30 }, true],
    [{ attribute: "age", operator: "NUM_GT", value: "30" }, { age: 30 }, false],
    [{ attribute: "age", operator: "NUM_GTE", value: "30" }, { age: "thirty" }, false],
    [{ attribute: "version", operator: "SEMVER_EQ", value: "2.3.0" }, { version: "2.3.0" }, true],
    [{ attribute: "version", operator: "SEMVER_LT", value: "2.3.0" }, { version: "2.3.0-beta.1" }, true],
    [{ attribute: "version", operator: "SEMVER_GT", value: "2.3.0" }, { version: "2.10.0" }, true],
    [{ attribute: "version", operator: "SEMVER_GT", value: "2.3.0" }, { version: "not-a-version" }, false],
    [{ attribute: "signup", operator: "DATE_BEFORE", value: "2026-01-01T00:00:00Z" }, { signup: "2025-12-31" }, true],
    [{ attribute: "signup", operator: "DATE_AFTER", value: "2026-01-01T00:00:00Z" }, { signup: "2025-12-31" }, false],
  ];
  it.each(cases)("%o holds for %o: %s", (c, context, expected) => {
    expect(holds(condition(c), context)).toBe(expected);
  });

  it("compares DATE_ operators on currentTime with now when the context gives none", () => {
    const now = Date.parse("2026-12-02T00:00:00Z");
    expect(
      holds(condition({ attribute: "currentTime", operator: "DATE_AFTER", value: "2026-12-01T00:00:00Z" }), {}, now),
    ).toBe(true);
    expect(
      holds(condition({ attribute: "currentTime", operator: "DATE_BEFORE", value: "2026-12-01T00:00:00Z" }), {}, now),
    ).toBe(false);
  });
});
