import { z } from "@hono/zod-openapi";
import { seqOfEventId } from "../events/event";
import { EventPattern } from "../events/patterns";
import { degraded } from "../flags/degradation";
import { errorResponses, iso, problemResponseOf, TenantParams, Timestamp } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { AppError } from "../http/problems";
import { createRouter } from "../http/router";
import { loadRoute } from "../routing/route";
import { RESUME_LIMIT, WINDOW } from "./connection";
import { type ConnectRequest, hubOf } from "./protocol";
import { connectionLimit, issueTicket, redeemTicket, TICKET_MS } from "./service";

const tags = ["Realtime stream"];

const Types = z.array(EventPattern).min(1).max(50);

const TicketBody = z
  .object({
    types: Types.optional().openapi({
      description: "Event types or patterns the connection receives (`entry.*`); every type when left out",
    }),
  })
  .strict()
  .openapi("StreamTicketRequest");

const TicketSchema = z
  .object({
    ticket: z.string().openapi({ description: "Shown once; opens one connection" }),
    expires_at: Timestamp,
    url: z.string().openapi({ description: "The path to open, the ticket in its query" }),
  })
  .openapi("StreamTicket");

const ConnectQuery = z.object({
  ticket: z.string().min(1).max(200),
  last_event_id: z
    .string()
    .regex(/^evt_[0-9A-Z]{26}_[0-9]{12}$/, "an event id (evt_…)")
    .optional()
    .openapi({ description: "Resume after this event: the last one the client processed" }),
});

const StatsSchema = z
  .object({
    active: z.number().int(),
    opened: z.number().int(),
    refused: z.number().int(),
    dropped: z.number().int(),
    resyncs: z.number().int(),
    coalesced: z.number().int(),
    limit: z.number().int().openapi({ description: "Connections the tenant's plan allows at once" }),
  })
  .openapi("StreamStats");

/** Mounted at /v1/tenants/:tenantId/stream. */
export const streamRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/tickets",
      tags,
      summary: "A single-use ticket to open the tenant's event stream",
      description: `Browsers cannot send an Authorization header on a WebSocket and a key in a URL ends up in logs: open \`url\` within ${TICKET_MS / 1000} s instead. A ticket opens one connection; closing with the key that asked when it is revoked.`,
      meta: { tenant: true, scope: "entries:read", audit: "stream.ticket_issued" },
      request: { params: TenantParams, body: { ...json(TicketBody), required: false } },
      responses: { 201: { description: "Issued", ...json(TicketSchema) }, ...errorResponses },
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const body = c.req.valid("json") as z.infer<typeof TicketBody> | undefined;
      const { ticket, expiresAt } = await issueTicket(c.var.db, tenantId, c.var.principal.keyId, body?.types ?? null);
      return c.json(
        {
          ticket,
          expires_at: iso(expiresAt) as string,
          url: `/v1/tenants/${tenantId}/stream?ticket=${encodeURIComponent(ticket)}`,
        },
        201,
      );
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/stats",
      tags,
      summary: "The tenant's stream: connections open, opened, refused, dropped, resyncs, coalesced updates",
      meta: { tenant: true, scope: "tenant:admin" },
      request: { params: TenantParams },
      responses: { 200: { description: "The counters", ...json(StatsSchema) }, ...errorResponses },
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const stats = await hubOf(c.env, tenantId).stats();
      return c.json({ ...stats, limit: await connectionLimit(c.var.db, c.var.route.tier) }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "Open the tenant's event stream (a WebSocket)",
      description: `Authenticated by \`ticket\` (POST …/stream/tickets), not by a key. The server sends \`{"kind":"ready"}\`, then \`{"kind":"event","event":…}\` per event in seq order; the client acknowledges with \`{"kind":"ack","last_event_id":…}\`. Past ${WINDOW} unacknowledged events, updates of a subject are coalesced (the latest goes, with \`coalesced\`: how many it replaced); a client too far behind gets \`{"kind":"resync"}\` and close code 4409. \`last_event_id\` resumes after that event (up to ${RESUME_LIMIT} behind).`,
      meta: { ticket: true },
      request: { params: TenantParams, query: ConnectQuery },
      responses: {
        101: { description: "Switching to the WebSocket protocol" },
        ...errorResponses,
        426: problemResponseOf("Not a WebSocket upgrade request"),
      },
    }),
    async (c) => {
      const { tenantId } = c.req.valid("param");
      const { ticket, last_event_id } = c.req.valid("query");
      // Before the ticket is spent: a plain GET leaves it for the real connection.
      if (c.req.header("upgrade")?.toLowerCase() !== "websocket") {
        throw new AppError("upgrade-required", "Open this URL as a WebSocket", { headers: { Upgrade: "websocket" } });
      }
      const afterSeq = last_event_id === undefined ? null : seqOfEventId(tenantId, last_event_id);
      if (last_event_id !== undefined && afterSeq === null) {
        throw new AppError("validation-error", "last_event_id is not an event of this tenant", {
          extensions: { errors: [{ path: "query.last_event_id", message: "not an event of this tenant" }] },
        });
      }
      const spent = await redeemTicket(c.var.db, tenantId, ticket);
      if (!spent) throw new AppError("stream-ticket-invalid");
      const route = await loadRoute(c.var.db, tenantId);
      if (route?.status !== "ACTIVE") throw new AppError("tenant-not-ready", "The tenant is not ACTIVE");
      if (await degraded(c.env, c.var.db, "degrade.realtime")) {
        throw new AppError("degraded", "New stream connections are refused (degrade.realtime)", {
          headers: { "Retry-After": "60" },
        });
      }
      const connect: ConnectRequest = {
        tenantId,
        keyId: spent.keyId,
        types: spent.types,
        afterSeq,
        limit: await connectionLimit(c.var.db, route.tier),
      };
      const res = await hubOf(c.env, tenantId).fetch("https://stream-hub/connect", {
        headers: { Upgrade: "websocket", "x-stream-connect": JSON.stringify(connect) },
      });
      if (res.status === 429) {
        throw new AppError("stream-connection-limit", `The tenant's plan allows ${connect.limit} open connections`, {
          headers: { "Retry-After": "5" },
        });
      }
      return res;
    },
  );
