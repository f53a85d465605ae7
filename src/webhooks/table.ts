import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";
import type { CircuitSnapshot } from "../gate/circuit-breaker";
import { tenants } from "../tenants/table";

/** Why an endpoint stopped receiving: a person, a 410 from it, or five days of failures. */
export type DisabledReason = "manual" | "gone" | "failing";

/** A tenant's webhook endpoint: where its events are delivered, signed with its secret. */
export const webhookEndpoints = sqliteTable(
  "webhook_endpoints",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    url: text("url").notNull(),
    /** Event types or patterns (`entry.*`, `*`) the endpoint receives. */
    events: jsonText<string[]>("events").notNull(),
    description: text("description"),
    enabled: integer("enabled", { mode: "boolean" }).notNull().default(true),
    disabledReason: text("disabled_reason").$type<DisabledReason>(),
    /**
     * The signing secret, sealed with a key derived from PLATFORM_SECRET (src/webhooks/signing.ts):
     * the Worker must sign with it, so it cannot be hashed, and a copy of the row opens nothing.
     */
    secret: text("secret").notNull(),
    /** The secret before the last rotation, signing beside the new one until `previous_until`. */
    previousSecret: text("previous_secret"),
    previousUntil: epochMs("previous_until"),
    /** Since when every attempt has failed (null after a success): five days of it disables. */
    failingSince: epochMs("failing_since"),
    /** The endpoint's circuit breaker (the gate's, src/gate/circuit-breaker.ts), saved per outcome. */
    circuit: jsonText<CircuitSnapshot>("circuit"),
    /** Raised by every write, so concurrent deliveries update the circuit without losing an outcome. */
    version: integer("version").notNull().default(1),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [index("webhook_endpoints_tenant_idx").on(t.tenantId, t.id)],
);

export type WebhookEndpoint = typeof webhookEndpoints.$inferSelect;

export type MessageStatus = "pending" | "delivered" | "failed";

/** One event (or test event) for one endpoint, and where its delivery stands. */
export const webhookMessages = sqliteTable(
  "webhook_messages",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    endpointId: text("endpoint_id").notNull(),
    /** The event's id: the `webhook-id` header, the same on every attempt and replay. */
    eventId: text("event_id").notNull(),
    eventType: text("event_type").notNull(),
    /** The exact body sent: the event as the feed publishes it. */
    payload: text("payload").notNull(),
    status: text("status").$type<MessageStatus>().notNull(),
    /** Attempts made, over every run (a replay starts a new run of the schedule). */
    attempts: integer("attempts").notNull().default(0),
    /** Attempts in the current run: the position in the retry schedule. */
    step: integer("step").notNull().default(0),
    /** When the next attempt is due; while one is under way, when it is given up for lost. */
    nextAttemptAt: epochMs("next_attempt_at"),
    lastStatusCode: integer("last_status_code"),
    deliveredAt: epochMs("delivered_at"),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [
    // The fan-out runs at least once per event: one message per event and endpoint however often.
    uniqueIndex("webhook_messages_event_idx").on(t.endpointId, t.eventId),
    index("webhook_messages_endpoint_idx").on(t.tenantId, t.endpointId, t.id),
    index("webhook_messages_due_idx").on(t.status, t.nextAttemptAt),
  ],
);

export type WebhookMessage = typeof webhookMessages.$inferSelect;

export type AttemptTrigger = "scheduled" | "replay" | "recover" | "test";

/** One HTTP attempt of a message: what the endpoint answered, or why there was no answer. */
export const webhookAttempts = sqliteTable(
  "webhook_attempts",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    messageId: text("message_id").notNull(),
    endpointId: text("endpoint_id").notNull(),
    /** 1 for the first attempt of the message, counting across replays. */
    attempt: integer("attempt").notNull(),
    trigger: text("trigger").$type<AttemptTrigger>().notNull(),
    url: text("url").notNull(),
    statusCode: integer("status_code"),
    durationMs: integer("duration_ms").notNull(),
    /** The response's first 1 KiB, as text. */
    response: text("response"),
    error: text("error"),
    startedAt: epochMs("started_at").notNull(),
  },
  (t) => [index("webhook_attempts_message_idx").on(t.tenantId, t.messageId, t.attempt)],
);

export type WebhookAttempt = typeof webhookAttempts.$inferSelect;
