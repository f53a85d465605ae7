import { z } from "@hono/zod-openapi";
import {
  conflictResponse,
  errorResponses,
  IdempotencyHeader,
  idSchema,
  PageQuery,
  TenantParams,
  unprocessableResponse,
} from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { createRouter } from "../http/router";
import {
  AttemptSchema,
  attemptView,
  CreateEndpointBody,
  EndpointParams,
  EndpointSchema,
  EndpointWithSecretSchema,
  endpointView,
  MessageParams,
  MessageSchema,
  messageView,
  RecoverBody,
  RotateBody,
  UpdateEndpointBody,
} from "./api";
import {
  createEndpoint,
  deleteEndpoint,
  getEndpoint,
  getMessage,
  listAttempts,
  listEndpoints,
  listMessages,
  recoverMessages,
  replayMessage,
  rotateSecret,
  sendTestEvent,
  updateEndpoint,
} from "./service";

const tags = ["Webhooks"];
const tenantAdmin = { tenant: true, scope: "tenant:admin" } as const;

const MessagePageQuery = PageQuery.extend({
  cursor: idSchema("msg", "msg_01JD8X5Q3M2V7T6R4N9K0B1C2D")
    .optional()
    .openapi({ description: "next_cursor from the previous page" }),
  status: z.enum(["pending", "delivered", "failed"]).optional(),
});

/** Mounted at /v1/tenants/:tenantId/webhooks (tenant admins). */
export const webhookRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      tags,
      summary: "Add a webhook endpoint",
      description:
        "The tenant's events whose type matches `events` (`entry.created`, `entry.*`, `*`) are POSTed to `url`, signed the Standard Webhooks way with `secret` (shown only here). The URL must be https to a public host.",
      meta: { ...tenantAdmin, audit: "webhook.endpoint_created" },
      request: {
        params: TenantParams,
        headers: IdempotencyHeader,
        body: { ...json(CreateEndpointBody), required: true },
      },
      responses: {
        201: { description: "Added", ...json(EndpointWithSecretSchema) },
        ...errorResponses,
        ...conflictResponse,
        ...unprocessableResponse,
      },
    }),
    async (c) => {
      const { endpoint, secret } = await createEndpoint(c.env, c.var.db, c.var.route.tenantId, c.req.valid("json"));
      c.header("Location", `/v1/tenants/${endpoint.tenantId}/webhooks/${endpoint.id}`);
      return c.json({ ...endpointView(endpoint), secret }, 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "The tenant's webhook endpoints",
      meta: tenantAdmin,
      request: { params: TenantParams },
      responses: {
        200: { description: "The endpoints", ...json(z.object({ data: z.array(EndpointSchema) })) },
        ...errorResponses,
      },
    }),
    async (c) =>
      c.json({ data: (await listEndpoints(c.var.db, c.var.route.tenantId)).map((e) => endpointView(e)) }, 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{endpointId}",
      tags,
      summary: "A webhook endpoint",
      meta: tenantAdmin,
      request: { params: EndpointParams },
      responses: { 200: { description: "The endpoint", ...json(EndpointSchema) }, ...errorResponses },
    }),
    async (c) =>
      c.json(endpointView(await getEndpoint(c.var.db, c.var.route.tenantId, c.req.valid("param").endpointId)), 200),
  )
  .openapi(
    defineRoute({
      method: "patch",
      path: "/{endpointId}",
      tags,
      summary: "Change a webhook endpoint",
      description:
        "`enabled: true` on a disabled endpoint clears its failures and circuit; its failed messages stay failed (recover them).",
      meta: { ...tenantAdmin, audit: "webhook.endpoint_updated" },
      request: { params: EndpointParams, body: { ...json(UpdateEndpointBody), required: true } },
      responses: {
        200: { description: "The endpoint", ...json(EndpointSchema) },
        ...errorResponses,
        ...unprocessableResponse,
      },
    }),
    async (c) => {
      const { endpointId } = c.req.valid("param");
      const endpoint = await updateEndpoint(c.env, c.var.db, c.var.route.tenantId, endpointId, c.req.valid("json"));
      return c.json(endpointView(endpoint), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "delete",
      path: "/{endpointId}",
      tags,
      summary: "Delete a webhook endpoint with its messages and attempts",
      meta: { ...tenantAdmin, audit: "webhook.endpoint_deleted" },
      request: { params: EndpointParams },
      responses: { 204: { description: "Deleted" }, ...errorResponses },
    }),
    async (c) => {
      await deleteEndpoint(c.var.db, c.var.route.tenantId, c.req.valid("param").endpointId);
      return c.body(null, 204);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{endpointId}/secret/rotate",
      tags,
      summary: "Rotate the signing secret",
      description:
        "The new secret (given, or generated) signs at once; the one before keeps signing beside it for 24 h, so every delivery meanwhile carries both signatures.",
      meta: { ...tenantAdmin, audit: "webhook.secret_rotated" },
      request: { params: EndpointParams, body: { ...json(RotateBody), required: false } },
      responses: {
        200: { description: "The endpoint and its new secret", ...json(EndpointWithSecretSchema) },
        ...errorResponses,
        ...conflictResponse,
      },
    }),
    async (c) => {
      const { endpointId } = c.req.valid("param");
      const body = c.req.valid("json") as z.infer<typeof RotateBody> | undefined;
      const { endpoint, secret } = await rotateSecret(c.env, c.var.db, c.var.route.tenantId, endpointId, body?.secret);
      return c.json({ ...endpointView(endpoint), secret }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{endpointId}/test",
      tags,
      summary: "Send the endpoint a webhook.test event",
      meta: { ...tenantAdmin, audit: "webhook.test_sent" },
      request: { params: EndpointParams },
      responses: { 202: { description: "Queued", ...json(MessageSchema) }, ...errorResponses, ...conflictResponse },
    }),
    async (c) => {
      const { endpointId } = c.req.valid("param");
      const message = await sendTestEvent(c.env, c.var.db, c.var.emit, c.var.route.tenantId, endpointId);
      return c.json(messageView(message), 202);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{endpointId}/recover",
      tags,
      summary: "Send again every failed message since a time",
      description: "Up to 500 a call; `more: true` says to call again.",
      meta: { ...tenantAdmin, audit: "webhook.messages_recovered" },
      request: { params: EndpointParams, body: { ...json(RecoverBody), required: true } },
      responses: {
        202: {
          description: "Queued",
          ...json(z.object({ recovering: z.number().int(), more: z.boolean() }).openapi("WebhookRecovery")),
        },
        ...errorResponses,
        ...conflictResponse,
      },
    }),
    async (c) => {
      const { endpointId } = c.req.valid("param");
      const since = Date.parse(c.req.valid("json").since);
      return c.json(await recoverMessages(c.env, c.var.db, c.var.route.tenantId, endpointId, since), 202);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{endpointId}/messages",
      tags,
      summary: "The messages sent to the endpoint, oldest first",
      meta: tenantAdmin,
      request: { params: EndpointParams, query: MessagePageQuery },
      responses: {
        200: {
          description: "A page of messages",
          ...json(z.object({ data: z.array(MessageSchema), next_cursor: z.string().nullable() })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const { endpointId } = c.req.valid("param");
      const { limit, cursor, status } = c.req.valid("query");
      const { items, more } = await listMessages(c.var.db, c.var.route.tenantId, endpointId, {
        limit,
        after: cursor,
        status,
      });
      const last = items.at(-1);
      return c.json({ data: items.map(messageView), next_cursor: more && last ? last.id : null }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{endpointId}/messages/{messageId}",
      tags,
      summary: "A message and its delivery status",
      meta: tenantAdmin,
      request: { params: MessageParams },
      responses: { 200: { description: "The message", ...json(MessageSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { endpointId, messageId } = c.req.valid("param");
      return c.json(messageView(await getMessage(c.var.db, c.var.route.tenantId, endpointId, messageId)), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{endpointId}/messages/{messageId}/attempts",
      tags,
      summary: "Every attempt of a message: status, duration, the response's first 1 KiB, error",
      meta: tenantAdmin,
      request: { params: MessageParams },
      responses: {
        200: { description: "The attempts, first first", ...json(z.object({ data: z.array(AttemptSchema) })) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const { endpointId, messageId } = c.req.valid("param");
      const attempts = await listAttempts(c.var.db, c.var.route.tenantId, endpointId, messageId);
      return c.json({ data: attempts.map(attemptView) }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{endpointId}/messages/{messageId}/replay",
      tags,
      summary: "Send a message again now (same webhook-id), with the schedule's retries",
      meta: { ...tenantAdmin, audit: "webhook.message_replayed" },
      request: { params: MessageParams },
      responses: { 202: { description: "Queued", ...json(MessageSchema) }, ...errorResponses, ...conflictResponse },
    }),
    async (c) => {
      const { endpointId, messageId } = c.req.valid("param");
      return c.json(
        messageView(await replayMessage(c.env, c.var.db, c.var.route.tenantId, endpointId, messageId)),
        202,
      );
    },
  );
