import { z } from "@hono/zod-openapi";
import semver from "semver";

// A flag's definition as the API takes it and the control database stores it (`flags.config`).
// Operators and their names are Unleash's constraint operators, so a rule reads as it would there.

export const FLAG_TYPES = ["boolean", "string", "number", "json"] as const;
export type FlagType = (typeof FLAG_TYPES)[number];

export const FlagKey = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]{0,99}$/, "lowercase letters, digits, '.', '_' and '-', at most 100")
  .openapi({ example: "new-checkout" });

export const OPERATORS = [
  "IN",
  "NOT_IN",
  "STR_STARTS_WITH",
  "STR_ENDS_WITH",
  "STR_CONTAINS",
  "NUM_EQ",
  "NUM_LT",
  "NUM_LTE",
  "NUM_GT",
  "NUM_GTE",
  "SEMVER_EQ",
  "SEMVER_LT",
  "SEMVER_GT",
  "DATE_BEFORE",
  "DATE_AFTER",
] as const;
export type Operator = (typeof OPERATORS)[number];

const LIST_OPERATORS: readonly Operator[] = ["IN", "NOT_IN", "STR_STARTS_WITH", "STR_ENDS_WITH", "STR_CONTAINS"];

export const Condition = z
  .object({
    attribute: z
      .string()
      .min(1)
      .max(100)
      .openapi({ description: "A context attribute (targetingKey, tenantId, tier, region or the caller's)" }),
    operator: z.enum(OPERATORS),
    values: z
      .array(z.string().max(1000))
      .max(1000)
      .optional()
      .openapi({ description: "For IN, NOT_IN and the STR_ operators" }),
    value: z.string().max(1000).optional().openapi({ description: "For the NUM_, SEMVER_ and DATE_ operators" }),
    case_insensitive: z.boolean().default(false),
    inverted: z.boolean().default(false),
  })
  .superRefine((condition, ctx) => {
    const list = LIST_OPERATORS.includes(condition.operator);
    if (list && !condition.values?.length) {
      ctx.addIssue({
        code: "custom",
        path: ["values"],
        message: `${condition.operator} takes a non-empty values list`,
      });
    }
    if (!list) {
      const value = condition.value;
      const valid =
        value !== undefined &&
        (condition.operator.startsWith("NUM_")
          ? value.trim() !== "" && Number.isFinite(Number(value))
          : condition.operator.startsWith("SEMVER_")
            ? semver.valid(value) !== null
            : !Number.isNaN(Date.parse(value)));
      if (!valid)
        ctx.addIssue({ code: "custom", path: ["value"], message: `${condition.operator} takes a valid value` });
    }
  })
  .openapi("FlagCondition");
export type Condition = z.infer<typeof Condition>;

export const Variant = z
  .object({
    name: z.string().min(1).max(100),
    weight: z.number().int().min(0).max(1000),
    value: z.unknown().openapi({ description: "The variant's payload: a value of the flag's type" }),
  })
  .openapi("FlagVariant");
export type Variant = { name: string; weight: number; value: unknown };

export const Rule = z
  .object({
    name: z.string().max(100).optional(),
    conditions: z.array(Condition).min(1).max(20).openapi({ description: "All must hold" }),
    variant: z.string().optional().openapi({ description: "Serve this variant when the rule matches" }),
    value: z.unknown().optional().openapi({ description: "Or serve this value" }),
  })
  .refine((rule) => (rule.variant === undefined) !== (rule.value === undefined), "a rule serves a variant or a value")
  .openapi("FlagRule");
export type Rule = { name?: string; conditions: Condition[]; variant?: string; value?: unknown };

export const Rollout = z
  .object({
    percentage: z.number().int().min(0).max(100),
    group_id: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .openapi({ description: "Hash group (Unleash's groupId); the flag key by default" }),
  })
  .openapi("FlagRollout");

export const Guard = z
  .object({
    error_rate_percent: z
      .number()
      .min(0)
      .max(100)
      .optional()
      .openapi({ description: "Trips when the tenant's 5xx share of requests is over this" }),
    p99_ms: z
      .number()
      .positive()
      .max(600_000)
      .optional()
      .openapi({ description: "Trips when the tenant's p99 latency is over this" }),
    window_minutes: z.number().int().min(1).max(60).default(5),
    min_requests: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(20)
      .openapi({ description: "Fewer requests in the window never trip it" }),
  })
  .refine(
    (guard) => guard.error_rate_percent !== undefined || guard.p99_ms !== undefined,
    "name error_rate_percent or p99_ms",
  )
  .openapi("FlagGuard");
export type Guard = z.infer<typeof Guard>;

/** What a flag serves, whole: a platform definition, or the result of merging a tenant's override over it. */
export type FlagConfig = {
  enabled: boolean;
  /** Served when off or not in the rollout (reason DEFAULT / DISABLED). */
  default_value: unknown;
  /** Served when on and no variant applies (true for a boolean flag unless said). */
  on_value: unknown;
  variants: Variant[];
  rollout: { percentage: number; group_id?: string } | null;
  rules: Rule[];
  metadata: Record<string, string | number | boolean>;
  /** Rolls a tenant's rollout back when its requests go bad (src/flags/guard.ts); null: never. */
  guard: Guard | null;
  /** What a rollback serves: this variant to everyone in the rollout, instead of a rollout of 0. */
  fallback_variant: string | null;
};

/** The config fields the API takes, in a definition (all but default_value optional) or an override (all optional). */
export const ConfigFields = z.object({
  enabled: z
    .boolean()
    .optional()
    .openapi({ description: "false: the flag serves default_value (reason DISABLED), the kill switch" }),
  default_value: z.unknown().optional(),
  on_value: z
    .unknown()
    .optional()
    .openapi({ description: "Served when on with no variants (true for a boolean flag)" }),
  variants: z.array(Variant).max(50).optional(),
  rollout: Rollout.nullable().optional(),
  rules: z.array(Rule).max(50).optional(),
  metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  guard: Guard.nullable().optional(),
  fallback_variant: z.string().min(1).max(100).nullable().optional(),
});
export type ConfigFields = z.infer<typeof ConfigFields>;

const TYPE_CHECK: Record<FlagType, (value: unknown) => boolean> = {
  boolean: (value) => typeof value === "boolean",
  string: (value) => typeof value === "string",
  number: (value) => typeof value === "number" && Number.isFinite(value),
  json: (value) => value !== undefined,
};

export const valueOfType = (type: FlagType, value: unknown) => TYPE_CHECK[type](value);

/** A config with its fields defaulted (a definition's, before any override). */
export function fullConfig(type: FlagType, fields: ConfigFields & { default_value: unknown }): FlagConfig {
  return {
    enabled: fields.enabled ?? true,
    default_value: fields.default_value,
    on_value: fields.on_value ?? (type === "boolean" ? true : fields.default_value),
    variants: (fields.variants ?? []) as Variant[],
    rollout: fields.rollout ?? null,
    rules: (fields.rules ?? []) as Rule[],
    metadata: fields.metadata ?? {},
    guard: fields.guard ?? null,
    fallback_variant: fields.fallback_variant ?? null,
  };
}

/** What is wrong with a config for a flag of `type`: values of another type, rules naming no variant; null if nothing. */
export function configProblem(type: FlagType, config: FlagConfig): string | null {
  if (!valueOfType(type, config.default_value)) return `default_value must be a ${type}`;
  if (!valueOfType(type, config.on_value)) return `on_value must be a ${type}`;
  const names = new Set<string>();
  for (const variant of config.variants) {
    if (!valueOfType(type, variant.value)) return `variant ${variant.name}'s value must be a ${type}`;
    if (names.has(variant.name)) return `variant ${variant.name} is named twice`;
    names.add(variant.name);
  }
  if (config.variants.length > 0 && config.variants.every((variant) => variant.weight === 0)) {
    return "the variants' weights sum to 0";
  }
  if (config.fallback_variant !== null && !names.has(config.fallback_variant)) {
    return `fallback_variant ${config.fallback_variant} is not a variant`;
  }
  for (const rule of config.rules) {
    if (rule.variant !== undefined && !names.has(rule.variant))
      return `a rule names variant ${rule.variant}, which is not one`;
    if (rule.value !== undefined && !valueOfType(type, rule.value)) return `a rule's value must be a ${type}`;
  }
  return null;
}

/** A tenant's override laid over the platform definition: each field it sets replaces the definition's. */
export function mergedConfig(definition: FlagConfig, override: Partial<FlagConfig> | undefined): FlagConfig {
  if (!override) return definition;
  const merged = { ...definition };
  for (const [field, value] of Object.entries(override)) {
    if (value !== undefined) (merged as Record<string, unknown>)[field] = value;
  }
  return merged;
}
