import { x86 } from "murmurhash3js";
import semver from "semver";
import type { Condition, FlagConfig, Rule, Variant } from "./model";

// Evaluation, shaped like OpenFeature's resolution details. Percentages and variants are bucketed
// exactly as Unleash's SDKs do (murmurhash3 x86 32-bit of "groupId:subject"), so a subject's
// bucket here is its bucket there, and raising a percentage only ever adds subjects.

export type Reason = "STATIC" | "TARGETING_MATCH" | "SPLIT" | "DEFAULT" | "DISABLED" | "ERROR";
export type ErrorCode = "FLAG_NOT_FOUND" | "TARGETING_KEY_MISSING" | "TYPE_MISMATCH" | "INVALID_CONTEXT" | "GENERAL";

export type Resolution = {
  value: unknown;
  variant?: string;
  reason: Reason;
  errorCode?: ErrorCode;
  errorMessage?: string;
  flagMetadata: Record<string, string | number | boolean>;
};

/** The evaluation context: OpenFeature's targetingKey plus any attributes. */
export type EvaluationContext = Record<string, unknown> & { targetingKey?: unknown };

const STRATEGY_SEED = 0;
const VARIANT_SEED = 86028157;

/** Unleash's normalizedValue: 1..normalizer, stable for (groupId, id). */
export const normalizedValue = (id: string, groupId: string, normalizer: number, seed = STRATEGY_SEED) =>
  (x86.hash32(`${groupId}:${id}`, seed) % normalizer) + 1;

/** The variant Unleash's selectVariant picks for `id`: weights laid end to end, the bucket's one. */
export function pickVariant(variants: Variant[], id: string, groupId: string): Variant | undefined {
  const total = variants.reduce((sum, variant) => sum + variant.weight, 0);
  if (total <= 0) return undefined;
  const target = normalizedValue(id, groupId, total, VARIANT_SEED);
  let counter = 0;
  return variants.find((variant) => {
    if (variant.weight === 0) return false;
    counter += variant.weight;
    return counter >= target;
  });
}

const text = (value: unknown, caseInsensitive: boolean) => {
  const s = String(value);
  return caseInsensitive ? s.toLowerCase() : s;
};

/** Whether one condition holds for the context (Unleash's constraint semantics: a missing attribute fails it). */
export function holds(condition: Condition, context: EvaluationContext, now = Date.now()): boolean {
  const raw =
    condition.attribute === "currentTime"
      ? (context.currentTime ?? new Date(now).toISOString())
      : context[condition.attribute];
  let result: boolean;
  if (raw === undefined || raw === null) {
    result = condition.operator === "NOT_IN";
  } else {
    const ci = condition.case_insensitive;
    const value = text(raw, ci);
    const values = (condition.values ?? []).map((v) => text(v, ci));
    const target = condition.value ?? "";
    switch (condition.operator) {
      case "IN":
        result = values.includes(value);
        break;
      case "NOT_IN":
        result = !values.includes(value);
        break;
      case "STR_STARTS_WITH":
        result = values.some((v) => value.startsWith(v));
        break;
      case "STR_ENDS_WITH":
        result = values.some((v) => value.endsWith(v));
        break;
      case "STR_CONTAINS":
        result = values.some((v) => value.includes(v));
        break;
      case "NUM_EQ":
      case "NUM_LT":
      case "NUM_LTE":
      case "NUM_GT":
      case "NUM_GTE": {
        const a = typeof raw === "number" ? raw : String(raw).trim() === "" ? Number.NaN : Number(raw);
        const b = Number(target);
        result =
          Number.isFinite(a) &&
          (condition.operator === "NUM_EQ"
            ? a === b
            : condition.operator === "NUM_LT"
              ? a < b
              : condition.operator === "NUM_LTE"
                ? a <= b
                : condition.operator === "NUM_GT"
                  ? a > b
                  : a >= b);
        break;
      }
      case "SEMVER_EQ":
      case "SEMVER_LT":
      case "SEMVER_GT": {
        const version = semver.valid(String(raw));
        result =
          version !== null &&
          (condition.operator === "SEMVER_EQ"
            ? semver.eq(version, target)
            : condition.operator === "SEMVER_LT"
              ? semver.lt(version, target)
              : semver.gt(version, target));
        break;
      }
      case "DATE_BEFORE":
      case "DATE_AFTER": {
        const at = Date.parse(String(raw));
        const bound = Date.parse(target);
        result = !Number.isNaN(at) && (condition.operator === "DATE_BEFORE" ? at < bound : at > bound);
        break;
      }
    }
  }
  return condition.inverted ? !result : result;
}

const matches = (rule: Rule, context: EvaluationContext, now?: number) =>
  rule.conditions.every((condition) => holds(condition, context, now));

/** The subject a percentage or a split is hashed on, or null when the context names none. */
const subjectOf = (context: EvaluationContext) =>
  typeof context.targetingKey === "string" && context.targetingKey !== ""
    ? context.targetingKey
    : typeof context.targetingKey === "number"
      ? String(context.targetingKey)
      : null;

/**
 * Resolves a flag's (merged) config for a context:
 * disabled → default_value (DISABLED); the first rule that matches → its variant or value
 * (TARGETING_MATCH); a rollout → in its percentage: on, out: default_value (DEFAULT); rules that
 * all missed with no rollout → default_value (DEFAULT); otherwise on (STATIC). "On" is a variant
 * picked by weight when there are variants (SPLIT), the on value otherwise.
 */
export function evaluate(key: string, config: FlagConfig, context: EvaluationContext, now?: number): Resolution {
  const flagMetadata = config.metadata;
  const off = (reason: Reason, extra: Partial<Resolution> = {}): Resolution => ({
    value: config.default_value,
    reason,
    flagMetadata,
    ...extra,
  });
  if (!config.enabled) return off("DISABLED");
  for (const rule of config.rules) {
    if (!matches(rule, context, now)) continue;
    if (rule.variant !== undefined) {
      const variant = config.variants.find((v) => v.name === rule.variant);
      if (variant) return { value: variant.value, variant: variant.name, reason: "TARGETING_MATCH", flagMetadata };
    }
    return { value: rule.value, reason: "TARGETING_MATCH", flagMetadata };
  }
  const groupId = config.rollout?.group_id ?? key;
  const subject = subjectOf(context);
  const missingKey = () =>
    off("ERROR", {
      errorCode: "TARGETING_KEY_MISSING",
      errorMessage: "A percentage or a split needs context.targetingKey",
    });
  let reason: Reason = "STATIC";
  if (config.rollout) {
    const { percentage } = config.rollout;
    if (percentage <= 0) return off("DEFAULT");
    if (percentage < 100) {
      if (subject === null) return missingKey();
      if (normalizedValue(subject, groupId, 100) > percentage) return off("DEFAULT");
    }
    reason = "SPLIT";
  } else if (config.rules.length > 0) {
    return off("DEFAULT");
  }
  if (config.variants.length === 0) return { value: config.on_value, reason, flagMetadata };
  if (subject === null) return missingKey();
  const variant = pickVariant(config.variants, subject, groupId);
  if (!variant) return off("DEFAULT");
  return { value: variant.value, variant: variant.name, reason: "SPLIT", flagMetadata };
}
