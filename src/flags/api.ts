import { z } from "@hono/zod-openapi";
import { iso, TenantParams, Timestamp } from "../http/api";
import { ConfigFields, FLAG_TYPES, FlagKey, Guard, Rollout, Rule, Variant } from "./model";
import type { TenantFlag } from "./service";
import type { Flag } from "./table";

export const FlagParams = z.object({ flagKey: FlagKey.openapi({ param: { name: "flagKey", in: "path" } }) });
export const TenantFlagParams = TenantParams.extend({
  flagKey: FlagKey.openapi({ param: { name: "flagKey", in: "path" } }),
});

const Config = z
  .object({
    enabled: z.boolean(),
    default_value: z.unknown(),
    on_value: z.unknown(),
    variants: z.array(Variant),
    rollout: Rollout.nullable(),
    rules: z.array(Rule),
    metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
    guard: Guard.nullable(),
    fallback_variant: z.string().nullable(),
  })
  .openapi("FlagConfig");

export const FlagSchema = z
  .object({
    key: FlagKey,
    type: z.enum(FLAG_TYPES),
    description: z.string().nullable(),
    degrade: z.boolean().openapi({ description: "A degrade switch (listed at GET /v1/admin/degradation)" }),
    version: z.number().int(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .merge(Config)
  .openapi("Flag");

export const CreateFlagBody = ConfigFields.extend({
  key: FlagKey,
  type: z.enum(FLAG_TYPES),
  description: z.string().max(500).nullable().optional(),
  degrade: z.boolean().optional(),
  default_value: z.unknown().refine((value) => value !== undefined, "required"),
})
  .strict()
  .openapi("CreateFlag");

export const UpdateFlagBody = ConfigFields.extend({
  description: z.string().max(500).nullable().optional(),
  degrade: z.boolean().optional(),
})
  .strict()
  .refine((body) => Object.keys(body).length > 0, "send at least one field")
  .openapi("UpdateFlag");

export const OverrideBody = ConfigFields.strict()
  .refine((body) => Object.keys(body).length > 0, "send at least one field to override")
  .openapi("FlagOverride");

export const TenantFlagSchema = z
  .object({
    key: FlagKey,
    type: z.enum(FLAG_TYPES),
    description: z.string().nullable(),
    override: ConfigFields.nullable().openapi({ description: "The tenant's own fields, replacing the platform's" }),
    override_version: z.number().int().nullable(),
    effective: Config.openapi({ description: "What the tenant's evaluations use" }),
  })
  .openapi("TenantFlag");

export const flagView = (flag: Flag) => ({
  key: flag.key,
  type: flag.type,
  description: flag.description,
  degrade: flag.degrade,
  version: flag.version,
  created_at: iso(flag.createdAt) as string,
  updated_at: iso(flag.updatedAt) as string,
  ...flag.config,
});

export const tenantFlagView = ({ flag, override, effective }: TenantFlag) => ({
  key: flag.key,
  type: flag.type,
  description: flag.description,
  override: override?.config ?? null,
  override_version: override?.version ?? null,
  effective,
});

/** OpenFeature's evaluation context: targetingKey and attributes (strings, numbers, booleans, dates as strings). */
export const EvaluationContextSchema = z
  .record(z.string().max(100), z.unknown())
  .refine((context) => Object.keys(context).length <= 100, "at most 100 attributes")
  .refine(
    (context) => context.targetingKey === undefined || ["string", "number"].includes(typeof context.targetingKey),
    "targetingKey must be a string",
  )
  .default({})
  .openapi("EvaluationContext", { example: { targetingKey: "user-42", country: "DE", app_version: "2.3.0" } });

export const EvaluateBody = z
  .object({
    flag: FlagKey,
    context: EvaluationContextSchema,
    default_value: z
      .unknown()
      .optional()
      .openapi({ description: "Answered with FLAG_NOT_FOUND when no such flag exists" }),
  })
  .strict()
  .openapi("EvaluateFlag");

export const BulkEvaluateBody = z
  .object({
    flags: z
      .array(FlagKey)
      .min(1)
      .max(200)
      .optional()
      .openapi({ description: "These flags; every flag when left out" }),
    context: EvaluationContextSchema,
  })
  .strict()
  .openapi("EvaluateFlags");

export const EvaluationSchema = z
  .object({
    key: FlagKey,
    value: z.unknown(),
    variant: z.string().optional(),
    reason: z.enum(["STATIC", "TARGETING_MATCH", "SPLIT", "DEFAULT", "DISABLED", "ERROR"]),
    errorCode: z.string().optional(),
    errorMessage: z.string().optional(),
    flagMetadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  })
  .openapi("FlagEvaluation");
