import { z } from "@hono/zod-openapi";
import { EVENT_TYPES } from "./event";

// Which events a consumer wants (a webhook endpoint, a stream connection): event types, a
// subject's every type, or all.

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

export const EventPatterns = z.array(EventPattern).min(1).max(50);

/** Whether an event of `type` is one `patterns` asks for. */
export const subscribed = (patterns: readonly string[], type: string) =>
  patterns.some(
    (pattern) =>
      pattern === "*" || pattern === type || (pattern.endsWith(".*") && type.startsWith(pattern.slice(0, -1))),
  );
