import { z } from "@hono/zod-openapi";
import { EVENT_TYPES } from "../events/event";

/** The type of the event `POST …/webhooks/:id/test` sends: to that endpoint only, never in the feed. */
export const TEST_EVENT_TYPE = "webhook.test";

const PREFIXES = new Set(EVENT_TYPES.map((type) => type.split(".")[0] as string));

/** An event type, `<subject>.*` (every type of a subject) or `*` (every type). */
export const EventPattern = z
  .string()
  .refine(
    (pattern) =>
      pattern === "*" ||
      (EVENT_TYPES as readonly string[]).includes(pattern) ||
      (pattern.endsWith(".*") && PREFIXES.has(pattern.slice(0, -2))),
    { message: "an event type, <subject>.* or *" },
  )
  .openapi({ example: "entry.*" });

/** Whether an event of `type` goes to an endpoint subscribed to `patterns`. */
export const subscribed = (patterns: readonly string[], type: string) =>
  patterns.some(
    (pattern) =>
      pattern === "*" || pattern === type || (pattern.endsWith(".*") && type.startsWith(pattern.slice(0, -1))),
  );

export const EventPatterns = z.array(EventPattern).min(1).max(50);
