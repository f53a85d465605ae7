import { z } from "@hono/zod-openapi";
import { idSchema, iso, TenantParams, Timestamp } from "../http/api";
import { MAX_BODY_DEPTH } from "../http/json-model";
import type { EntityTags, Precondition } from "../shards/store";
import type { Entry } from "./table";

export const MAX_ENTRY_BYTES = 64 * 1024;

export const EntryId = idSchema("ent", "ent_01JD8X5Q3M2V7T6R4N9K0B1C2G");
export const EntryParams = TenantParams.extend({
  entryId: EntryId.openapi({ param: { name: "entryId", in: "path" } }),
});

const Tag = z.string().regex(/^[\w.:-]{1,64}$/, "1-64 letters, digits, _ . : -");

/** How deep an entry's `data` may nest, `data` itself the first level: one below the body's own bound. */
export const MAX_DATA_DEPTH = MAX_BODY_DEPTH - 1;

/**
 * An entry's `data`: a JSON object of at most MAX_ENTRY_BYTES. Every JSON body is held to the
 * JSON model before this (src/http/json-model.ts), which also bounds the nesting that
 * JSON.stringify below recurses through.
 */
const EntryData = z
  .record(z.string(), z.unknown())
  .refine(
    (data) => new TextEncoder().encode(JSON.stringify(data)).byteLength <= MAX_ENTRY_BYTES,
    `data must serialise to at most ${MAX_ENTRY_BYTES} bytes of JSON`,
  )
  .openapi({
    type: "object",
    description: `A JSON object of at most ${MAX_ENTRY_BYTES} bytes, nested at most ${MAX_DATA_DEPTH} levels; no U+0000 or lone surrogates in strings or keys, no key \`__proto__\`, no key twice, only numbers a double holds`,
    example: { title: "hello" },
  });

export const EntryBody = z
  .object({
    data: EntryData,
    tags: z.array(Tag).max(32).default([]),
  })
  .strict()
  .openapi("EntryInput");

export const EntrySchema = z
  .object({
    id: EntryId,
    data: z.record(z.string(), z.unknown()),
    tags: z.array(z.string()),
    version: z.number().int().openapi({ description: "Also sent as the ETag" }),
    size_bytes: z.number().int(),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("Entry");

export const EntryListQuery = z.object({ tag: Tag.optional() });

export const IfMatchHeader = z.object({
  "if-match": z
    .string()
    .optional()
    .openapi({ description: "ETags from a read (strong); 412 unless one still matches" }),
});

export const IfNoneMatchHeader = z.object({
  "if-none-match": z.string().optional().openapi({
    description:
      "GET: 304 when an ETag named (weakly) still matches. PUT, DELETE: 412 if it does; `*`: 412 whenever the entry exists",
  }),
});

export const etagOf = (entry: Pick<Entry, "version">) => `"${entry.version}"`;

const STRONG_TAG = /^"(0|[1-9]\d*)"$/;
const WEAK_OR_STRONG_TAG = /^(?:W\/)?"(0|[1-9]\d*)"$/;

/**
 * Parses If-Match / If-None-Match into the versions they name, or "*" (also when a list holds
 * one). If-Match compares strongly, so a weak tag never matches it; If-None-Match weakly
 * (RFC 9110). Only this API's own spelling of a version counts: `"01"` names none.
 */
export function parseEntityTags(
  header: string | undefined,
  comparison: "strong" | "weak" = "strong",
): EntityTags | undefined {
  if (header === undefined) return undefined;
  const items = header.split(",").map((item) => item.trim());
  if (items.includes("*")) return "*";
  const pattern = comparison === "weak" ? WEAK_OR_STRONG_TAG : STRONG_TAG;
  return items
    .map((item) => pattern.exec(item)?.[1])
    .filter((version): version is string => version !== undefined)
    .map(Number);
}

/** The conditions of a write request's If-Match and If-None-Match headers. */
export const preconditionOf = (headers: { "if-match"?: string; "if-none-match"?: string }): Precondition => {
  const ifMatch = parseEntityTags(headers["if-match"]);
  const ifNoneMatch = parseEntityTags(headers["if-none-match"], "weak");
  return ifMatch === undefined && ifNoneMatch === undefined ? undefined : { ifMatch, ifNoneMatch };
};

export const entryView = (e: Entry) => ({
  id: e.id,
  data: e.data,
  tags: e.tags,
  version: e.version,
  size_bytes: e.sizeBytes,
  created_at: iso(e.createdAt) as string,
  updated_at: iso(e.updatedAt) as string,
});
