import { eq } from "drizzle-orm";
import { errorResponses, problemResponseOf, TenantParams } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { createRouter } from "../http/router";
import { deliveryView, EventFeedQuery, EventFeedSchema, feedCursor, feedCursorAfter } from "./api";
import { eventCursors } from "./cursor-table";
import { feedEvent } from "./event";

export const eventRoutes = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/",
    tags: ["Events"],
    summary: "Read the tenant's event feed, oldest first, from a cursor",
    description:
      "Every change to the tenant's data (entries, users, keys, the tenant), in commit order. Poll with `next_cursor`; events stay for EVENT_RETENTION_DAYS.",
    meta: { tenant: true, scope: "tenant:admin", shard: "read" },
    request: { params: TenantParams, query: EventFeedQuery },
    responses: {
      200: { description: "A page of the feed", ...json(EventFeedSchema) },
      ...errorResponses,
      503: problemResponseOf("The tenant's shard is unavailable"),
    },
  }),
  async (c) => {
    const tenantId = c.var.route.tenantId;
    const { limit, cursor } = c.req.valid("query");
    const after = feedCursorAfter(tenantId, cursor);
    const [rows, delivered] = await Promise.all([
      c.var.shard.feed.page(tenantId, after, limit + 1),
      c.var.db.query.eventCursors.findFirst({ where: eq(eventCursors.tenantId, tenantId) }),
    ]);
    const events = rows.slice(0, limit).map(feedEvent);
    const last = events.at(-1)?.seq ?? after;
    return c.json(
      {
        data: events,
        next_cursor: feedCursor(tenantId, last),
        has_more: rows.length > limit,
        delivery: deliveryView(tenantId, delivered),
      },
      200,
    );
  },
);
