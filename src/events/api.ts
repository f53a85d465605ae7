import { z } from "@hono/zod-openapi";
import { PageQuery, Timestamp } from "../http/api";
import { encodeCursor } from "../http/cursor";
import { seqOfCursor } from "../http/pagination";
import type { EventCursor } from "./cursor-table";
import { EVENT_TYPES, eventId } from "./event";

const Actor = z
  .object({
    type: z.enum(["api_key", "user", "platform_admin", "system", "download_link"]),
    id: z.string().nullable(),
    key_prefix: z.string().nullable(),
  })
  .openapi("Actor");

export const EventSchema = z
  .object({
    id: z.string().openapi({ example: "evt_01JD8X5Q3M2V7T6R4N9K0B1C2D_000000000042" }),
    tenant_id: z.string(),
    seq: z.number().int().openapi({ description: "The event's place in the tenant's feed, from 1 without gaps" }),
    type: z.enum(EVENT_TYPES),
    subject: z.object({ type: z.string(), id: z.string() }),
    data: z.unknown().openapi({ description: "The subject's row after the change, or {id} of what was removed" }),
    occurred_at: Timestamp,
    request_id: z.string().nullable(),
    actor: Actor,
  })
  .openapi("Event");

export const EventFeedQuery = PageQuery;

export const EventFeedSchema = z
  .object({
    data: z.array(EventSchema),
    next_cursor: z.string().openapi({
      description: "Where to read on from: after the last event returned, or the cursor sent when none was",
    }),
    has_more: z.boolean(),
    delivery: z
      .object({
        through_seq: z.number().int(),
        through_event_id: z.string().nullable(),
        delivered: z.number().int(),
        duplicates: z.number().int(),
        updated_at: Timestamp,
      })
      .nullable()
      .openapi({ description: "How far the events queue's consumer has delivered the feed (null: nothing yet)" }),
  })
  .openapi("EventFeed");

/** The seq a feed cursor continues after: it names an event of this tenant. */
export const feedCursorAfter = (tenantId: string, cursor: string | undefined): number =>
  cursor === undefined ? 0 : seqOfCursor(cursor, (seq) => eventId(tenantId, seq), "this tenant's feed");

export const feedCursor = (tenantId: string, seq: number) => encodeCursor(eventId(tenantId, seq));

export const deliveryView = (tenantId: string, cursor: EventCursor | undefined) =>
  cursor
    ? {
        through_seq: cursor.throughSeq,
        through_event_id: cursor.throughSeq > 0 ? eventId(tenantId, cursor.throughSeq) : null,
        delivered: cursor.delivered,
        duplicates: cursor.duplicates,
        updated_at: new Date(cursor.updatedAt).toISOString(),
      }
    : null;
