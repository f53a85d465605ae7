import { z } from "@hono/zod-openapi";
import { idSchema, iso, TenantParams, Timestamp } from "../http/schemas";
import { documentIssues, MAX_DOCUMENT_DEPTH } from "./document";
import type { Entry } from "./schema";

export const MAX_ENTRY_BYTES = 64 * 1024;

export const EntryId = idSchema("ent", "ent_01JD8X5Q3M2V7T6R4N9K0B1C2G");
export const EntryParams = TenantParams.extend({
  entryId: EntryId.openapi({ param: { name: "entryId", in: "path" } }),
});

const Tag = z.string().regex(/^[\w.:-]{1,64}$/, "1-64 letters, digits, _ . : -");

/**
 * An entry's `data`: a JSON object within the document model (src/entries/document.ts) and
 * MAX_ENTRY_BYTES. The model is checked on the parsed body as sent, before the record below
 * copies it (which would drop a `__proto__` key unseen).
 */
const EntryData = z
  .unknown()
  .superRefine((data, ctx) => {
    const issues = documentIssues(data);
    for (const issue of issues) ctx.addIssue({ code: "custom", path: issue.path, message: issue.message });
    // Only measured once the nesting is known to be bounded: JSON.stringify recurses.
    if (
      issues.length === 0 &&
      typeof data === "object" &&
      data !== null &&
      new TextEncoder().encode(JSON.stringify(data)).byteLength > MAX_ENTRY_BYTES
    ) {
      ctx.addIssue({ code: "custom", message: `data must serialise to at most ${MAX_ENTRY_BYTES} bytes of JSON` });
    }
  })
  .pipe(z.record(z.string(), z.unknown()))
  .openapi({
    type: "object",
    description: `A JSON object of at most ${MAX_ENTRY_BYTES} bytes, nested at most ${MAX_DOCUMENT_DEPTH} levels; no U+0000 or lone surrogates in strings or keys, no key \`__proto__\``,
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
  "if-match": z.string().optional().openapi({ description: "ETag from a read; 412 if it changed" }),
});

export const IfNoneMatchHeader = z.object({
  "if-none-match": z.string().optional().openapi({ description: "304 when the ETag still matches" }),
});

export const etagOf = (entry: Pick<Entry, "version">) => `"${entry.version}"`;

/** Parses If-Match / If-None-Match into versions; a list of entity tags is allowed, weak tags are not. */
export function parseEntityTags(header: string | undefined): number[] | "*" | undefined {
  if (header === undefined) return undefined;
  if (header.trim() === "*") return "*";
  return header
    .split(",")
    .map((tag) => /^\s*"(\d+)"\s*$/.exec(tag)?.[1])
    .filter((v): v is string => v !== undefined)
    .map(Number);
}

export const entryView = (e: Entry) => ({
  id: e.id,
  data: e.data,
  tags: e.tags,
  version: e.version,
  size_bytes: e.sizeBytes,
  created_at: iso(e.createdAt) as string,
  updated_at: iso(e.updatedAt) as string,
});
