import { z } from "@hono/zod-openapi";
import { PageQuery, Timestamp, TimestampInput } from "../http/api";
import { encodeCursor } from "../http/cursor";
import { seqOfCursor } from "../http/pagination";
import { auditId } from "./record";

export const AuditRecordSchema = z
  .object({
    id: z.string().openapi({ example: "aud_01JD8X5Q3M2V7T6R4N9K0B1C2D_000000000042" }),
    seq: z.number().int().openapi({ description: "The record's place in its trail, from 1 without gaps" }),
    tenant_id: z.string().nullable().openapi({ description: "null on the platform's trail" }),
    actor: z.object({
      type: z.enum(["api_key", "user", "platform_admin", "system", "download_link"]),
      id: z.string().nullable(),
      key_prefix: z.string().nullable(),
    }),
    action: z.string().openapi({ example: "entry.created" }),
    targets: z.array(z.object({ type: z.string(), id: z.string() })),
    context: z.object({
      ip: z.string().nullable(),
      user_agent: z.string().nullable(),
      country: z.string().nullable(),
      request_id: z.string().nullable(),
      suppressed: z.number().int().optional(),
      replayed: z.literal(true).optional().openapi({ description: "An Idempotency-Key replay: nothing changed again" }),
    }),
    outcome: z.object({ status: z.number().int() }),
    occurred_at: Timestamp,
    prev_hash: z.string().nullable().openapi({ description: "null until the chainer links the record (moments)" }),
    hash: z.string().nullable(),
  })
  .openapi("AuditRecord");

export const AuditQuery = PageQuery.extend({
  action: z
    .string()
    .regex(/^[a-z_.]{1,64}$/)
    .optional()
    .openapi({ description: "An action or its start: `entry.` matches every entry action" }),
  actor: z.string().min(1).max(100).optional().openapi({ description: "The actor's id (a key or user id)" }),
  target: z.string().min(1).max(100).optional().openapi({ description: "The id of one of the targets" }),
  status: z
    .string()
    .regex(/^[1-5][0-9]{2}$/, "an HTTP status")
    .transform(Number)
    .optional()
    .openapi({ type: "integer", description: "The outcome's HTTP status" }),
  from: TimestampInput.optional().openapi({ description: "At or after this time" }),
  to: TimestampInput.optional().openapi({ description: "At or before this time" }),
});

export const VerifyQuery = z.object({
  from: z
    .string()
    .regex(/^(start|[0-9]{1,12})$/, "`start` or a checkpoint's seq")
    .default("start")
    .openapi({
      description:
        "`start`: from the trail's first retained record (genesis, or the checkpoint retention left); or the seq of a checkpoint to start from",
    }),
});

export const VerifySchema = z
  .object({
    ok: z.boolean(),
    start: z.object({ seq: z.number().int(), from: z.enum(["genesis", "checkpoint"]) }),
    checked: z.number().int().openapi({ description: "Linked records recomputed" }),
    pending: z.number().int().openapi({ description: "Records at the end not linked yet (moments old)" }),
    checkpoints_checked: z.number().int(),
    head: z.object({ seq: z.number().int(), hash: z.string() }),
    broken: z.object({ seq: z.number().int(), reason: z.string() }).nullable(),
  })
  .openapi("AuditVerification");

export const ExportQuery = z.object({
  format: z.enum(["ndjson", "csv"]).default("ndjson"),
});

/** The seq a trail cursor continues before (pages go newest first). */
export const auditCursorBefore = (tenantId: string | null, cursor: string | undefined): number | null =>
  cursor === undefined ? null : seqOfCursor(cursor, (seq) => auditId(tenantId, seq), "this trail");

export const auditCursor = (tenantId: string | null, seq: number) => encodeCursor(auditId(tenantId, seq));
