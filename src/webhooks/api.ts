import { z } from "@hono/zod-openapi";
import { EventPatterns } from "../events/patterns";
import { idSchema, iso, TenantParams, Timestamp, TimestampInput } from "../http/api";
import type { WebhookAttempt, WebhookEndpoint, WebhookMessage } from "./table";

const EndpointId = idSchema("whk", "whk_01JD8X5Q3M2V7T6R4N9K0B1C2D");
const MessageId = idSchema("msg", "msg_01JD8X5Q3M2V7T6R4N9K0B1C2D");

export const EndpointParams = TenantParams.extend({
  endpointId: EndpointId.openapi({ param: { name: "endpointId", in: "path" } }),
});
export const MessageParams = EndpointParams.extend({
  messageId: MessageId.openapi({ param: { name: "messageId", in: "path" } }),
});

const Url = z.string().url().max(2048).openapi({ example: "https://hooks.example.com/edge-tenancy" });
const Secret = z
  .string()
  .max(200)
  .openapi({ description: "`whsec_` and the base64 of 24 to 64 random bytes; generated when left out" });

export const CreateEndpointBody = z
  .object({
    url: Url,
    events: EventPatterns.openapi({ example: ["entry.*", "flag.rolled_back"] }),
    description: z.string().max(500).nullable().optional(),
    enabled: z.boolean().optional(),
    secret: Secret.optional(),
  })
  .strict()
  .openapi("CreateWebhookEndpoint");

export const UpdateEndpointBody = z
  .object({
    url: Url.optional(),
    events: EventPatterns.optional(),
    description: z.string().max(500).nullable().optional(),
    enabled: z.boolean().optional(),
  })
  .strict()
  .refine((body) => Object.keys(body).length > 0, "send at least one field")
  .openapi("UpdateWebhookEndpoint");

export const RotateBody = z.object({ secret: Secret.optional() }).strict().openapi("RotateWebhookSecret");

export const RecoverBody = z
  .object({ since: TimestampInput.openapi({ description: "Failed messages created at or after this are sent again" }) })
  .strict()
  .openapi("RecoverWebhookMessages");

export const EndpointSchema = z
  .object({
    id: EndpointId,
    url: z.string(),
    events: z.array(z.string()),
    description: z.string().nullable(),
    enabled: z.boolean(),
    disabled_reason: z
      .enum(["manual", "gone", "failing"])
      .nullable()
      .openapi({ description: "manual; gone (it answered 410); failing (every attempt failed for 5 days)" }),
    failing_since: Timestamp.nullable(),
    previous_secret_valid_until: Timestamp.nullable().openapi({
      description: "Until then the secret before the last rotation signs beside the current one",
    }),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("WebhookEndpoint");

export const EndpointWithSecretSchema = EndpointSchema.extend({
  secret: z.string().openapi({ description: "Shown only in this answer" }),
}).openapi("WebhookEndpointWithSecret");

export const endpointView = (endpoint: WebhookEndpoint, now = Date.now()): z.infer<typeof EndpointSchema> => ({
  id: endpoint.id,
  url: endpoint.url,
  events: endpoint.events,
  description: endpoint.description,
  enabled: endpoint.enabled,
  disabled_reason: endpoint.disabledReason,
  failing_since: iso(endpoint.failingSince),
  previous_secret_valid_until:
    endpoint.previousUntil !== null && endpoint.previousUntil > now ? iso(endpoint.previousUntil) : null,
  created_at: iso(endpoint.createdAt) as string,
  updated_at: iso(endpoint.updatedAt) as string,
});

export const MessageSchema = z
  .object({
    id: MessageId,
    endpoint_id: EndpointId,
    event_id: z.string().openapi({ description: "The `webhook-id` header of every attempt" }),
    event_type: z.string(),
    status: z.enum(["pending", "delivered", "failed"]),
    attempts: z.number().int(),
    next_attempt_at: Timestamp.nullable(),
    last_status_code: z.number().int().nullable(),
    delivered_at: Timestamp.nullable(),
    created_at: Timestamp,
    payload: z.unknown().openapi({ description: "The body sent: the event as the feed publishes it" }),
  })
  .openapi("WebhookMessage");

export const messageView = (message: WebhookMessage): z.infer<typeof MessageSchema> => ({
  id: message.id,
  endpoint_id: message.endpointId,
  event_id: message.eventId,
  event_type: message.eventType,
  status: message.status,
  attempts: message.attempts,
  next_attempt_at: message.status === "pending" ? iso(message.nextAttemptAt) : null,
  last_status_code: message.lastStatusCode,
  delivered_at: iso(message.deliveredAt),
  created_at: iso(message.createdAt) as string,
  payload: JSON.parse(message.payload),
});

export const AttemptSchema = z
  .object({
    id: z.string(),
    attempt: z.number().int(),
    trigger: z.enum(["scheduled", "replay", "recover", "test"]),
    url: z.string(),
    status_code: z.number().int().nullable(),
    duration_ms: z.number().int(),
    response: z.string().nullable().openapi({ description: "The response's first 1 KiB" }),
    error: z.string().nullable(),
    started_at: Timestamp,
  })
  .openapi("WebhookAttempt");

export const attemptView = (attempt: WebhookAttempt): z.infer<typeof AttemptSchema> => ({
  id: attempt.id,
  attempt: attempt.attempt,
  trigger: attempt.trigger,
  url: attempt.url,
  status_code: attempt.statusCode,
  duration_ms: attempt.durationMs,
  response: attempt.response,
  error: attempt.error,
  started_at: iso(attempt.startedAt) as string,
});
