import { z } from "@hono/zod-openapi";
import { idSchema, iso, PageQuery, Timestamp } from "../http/api";
import { DEAD_LETTER_SOURCES, type DeadLetter } from "./table";

export const DeadLetterParams = z.object({
  deadLetterId: idSchema("dlq", "dlq_01JD8X5Q3M2V7T6R4N9K0B1C2D").openapi({
    param: { name: "deadLetterId", in: "path" },
  }),
});

export const DeadLetterQuery = PageQuery.extend({
  source: z.enum(DEAD_LETTER_SOURCES).optional().openapi({ description: "The queue it came from" }),
  kind: z.string().max(100).optional().openapi({ description: "A lifecycle message's kind, e.g. purge-tenant" }),
  tenant_id: z.string().max(100).optional(),
});

export const DeadLetterSchema = z
  .object({
    id: z.string(),
    message_id: z.string(),
    source: z.enum(DEAD_LETTER_SOURCES),
    kind: z.string().nullable(),
    tenant_id: z.string().nullable(),
    body: z.unknown().openapi({ description: "The message as it was queued" }),
    received_at: Timestamp,
    replays: z.number().int(),
    replayed_at: Timestamp.nullable(),
  })
  .openapi("DeadLetter");

export const deadLetterView = (row: DeadLetter): z.infer<typeof DeadLetterSchema> => ({
  id: row.id,
  message_id: row.messageId,
  source: row.source,
  kind: row.kind,
  tenant_id: row.tenantId,
  body: row.body,
  received_at: iso(row.receivedAt) as string,
  replays: row.replays,
  replayed_at: iso(row.replayedAt),
});
