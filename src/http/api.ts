import { z } from "@hono/zod-openapi";
import { PROBLEM_CONTENT_TYPE } from "./problem-response";

export const ProblemSchema = z
  .object({
    type: z.string().url(),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    request_id: z.string(),
    errors: z.array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() })).optional(),
  })
  .openapi("Problem");

const problem = (description: string) => ({
  description,
  content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
});

/** Error responses every authenticated route may answer with. */
export const errorResponses = {
  400: problem("Validation failed or the JSON body is malformed"),
  401: problem("Missing, invalid, expired or revoked API key"),
  403: problem("Missing scope or role, the tenant is suspended, or a write past the storage quota"),
  404: problem("Not found, or belongs to another tenant"),
  429: problem("Rate limit reached (rate-limited) or monthly quota used up (quota-exhausted); see Retry-After"),
  500: problem("Unexpected error"),
  503: problem(
    "Too many of the tenant's requests in flight (concurrency-limit), a paused dependency (circuit-open) or the platform briefly unable to verify the request; see Retry-After",
  ),
} as const;

export const conflictResponse = { 409: problem("Conflicts with the current state") } as const;
export const unprocessableResponse = { 422: problem("Semantically invalid") } as const;
export const problemResponseOf = problem;

export const idSchema = (prefix: string, example: string) =>
  z
    .string()
    .regex(new RegExp(`^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`), `must be a ${prefix}_ id`)
    .openapi({ example });

export const TenantId = idSchema("ten", "ten_01JD8X5Q3M2V7T6R4N9K0B1C2D");
export const TenantParams = z.object({
  tenantId: TenantId.openapi({ param: { name: "tenantId", in: "path" } }),
});

export const PageQuery = z.object({
  // Digits only: coercion alone would take "0x10", "1e1" or " 5" for numbers.
  limit: z
    .string()
    .regex(/^[0-9]{1,3}$/, "a whole number from 1 to 100, in digits")
    .default("20")
    .transform(Number)
    .pipe(z.number().int().min(1).max(100))
    .openapi({ type: "integer", minimum: 1, maximum: 100, default: 20, example: 20 }),
  cursor: z.string().max(200).optional().openapi({ description: "next_cursor from the previous page" }),
});

export const pageOf = <T extends z.ZodType>(item: T) =>
  z.object({ data: z.array(item), next_cursor: z.string().nullable() });

export const Timestamp = z.string().datetime().openapi({ example: "2026-11-23T10:00:00.000Z" });
/** The last instant an RFC 3339 timestamp can name in UTC, as every answer writes them. */
const LAST_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59, 999);

/** A timestamp a request sends: RFC 3339, so with `Z` or an offset (`+02:00`), up to year 9999 in UTC. */
export const TimestampInput = z
  .string()
  .datetime({ offset: true })
  // Not "<=": a value that is no timestamp at all is already reported once, above.
  .refine((value) => !(Date.parse(value) > LAST_INSTANT), "must be no later than 9999-12-31T23:59:59.999Z")
  .openapi({ example: "2026-11-23T12:00:00+02:00" });
export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export const IdempotencyHeader = z.object({
  "idempotency-key": z.string().optional().openapi({ description: "Replays the first response for 24 h" }),
});
