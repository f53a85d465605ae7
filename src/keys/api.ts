import { z } from "@hono/zod-openapi";
import { idSchema, iso, TenantParams, Timestamp, TimestampInput } from "../http/api";
import { SCOPES } from "./scopes";
import type { ApiKey } from "./table";

export const KeyId = idSchema("key", "key_01JD8X5Q3M2V7T6R4N9K0B1C2F");
export const KeyParams = TenantParams.extend({ keyId: KeyId.openapi({ param: { name: "keyId", in: "path" } }) });
export const AdminKeyParams = z.object({ keyId: KeyId.openapi({ param: { name: "keyId", in: "path" } }) });

export const ApiKeySchema = z
  .object({
    id: KeyId,
    tenant_id: z.string().nullable(),
    user_id: z.string().nullable(),
    name: z.string(),
    prefix: z.string().openapi({ description: "The key's public part, to recognise it in logs and lists" }),
    scopes: z.array(z.enum(SCOPES)),
    rate_limit_per_minute: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "This key's own limit, on top of the tenant's; null = only the tenant's" }),
    expires_at: Timestamp.nullable(),
    last_used_at: Timestamp.nullable().openapi({ description: "Recorded with one-minute resolution" }),
    revoked_at: Timestamp.nullable(),
    created_at: Timestamp,
  })
  .openapi("ApiKey");

export const CreatedApiKeySchema = ApiKeySchema.extend({
  secret: z.string().openapi({ description: "The full key. Shown only in this response; store it now." }),
}).openapi("CreatedApiKey");

const future = TimestampInput.refine((value) => Date.parse(value) > Date.now(), "must be in the future");

export const CreateKeyBody = z
  .object({
    name: z.string().trim().min(1).max(200),
    // A set: a scope named twice is held once.
    scopes: z
      .array(z.enum(SCOPES))
      .min(1)
      .max(SCOPES.length)
      .transform((scopes) => [...new Set(scopes)]),
    rate_limit_per_minute: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .optional()
      .openapi({ description: "Limit this key below the tenant's own rate limit" }),
    expires_at: future.optional(),
    user_id: idSchema("usr", "usr_01JD8X5Q3M2V7T6R4N9K0B1C2E").optional().openapi({
      description:
        "Issue the key to a user; the user's current role caps its scopes. A key created by a user's key is issued to that user by default.",
    }),
  })
  .strict()
  .openapi("CreateApiKey");

export const CreateAdminKeyBody = z
  .object({ name: z.string().trim().min(1).max(200), expires_at: future.optional() })
  .strict()
  .openapi("CreateAdminKey");

export const keyView = (k: ApiKey) => ({
  id: k.id,
  tenant_id: k.tenantId,
  user_id: k.userId,
  name: k.name,
  prefix: k.prefix,
  scopes: k.scopes,
  rate_limit_per_minute: k.rateLimitPerMinute,
  expires_at: iso(k.expiresAt),
  last_used_at: iso(k.lastUsedAt),
  revoked_at: iso(k.revokedAt),
  created_at: iso(k.createdAt) as string,
});
