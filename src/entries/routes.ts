import { changeOf } from "../audit/request";
import {
  conflictResponse,
  errorResponses,
  IdempotencyHeader,
  PageQuery,
  pageOf,
  problemResponseOf,
  TenantParams,
  unprocessableResponse,
} from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { createRouter } from "../http/router";
import {
  EntryBody,
  EntryListQuery,
  EntryParams,
  EntrySchema,
  entryView,
  etagOf,
  IfMatchHeader,
  IfNoneMatchHeader,
  parseEntityTags,
  preconditionOf,
} from "./api";
import { checkPrecondition } from "./rules";

const tags = ["Entries"];
const reader = { tenant: true, scope: "entries:read", shard: "read" } as const;
const writer = { tenant: true, scope: "entries:write", shard: "write" } as const;
const etagHeader = { ETag: { description: "The entry's version", schema: { type: "string" as const } } };
const dataErrors = {
  ...errorResponses,
  ...conflictResponse,
  ...unprocessableResponse,
  503: problemResponseOf("The tenant's shard is unavailable"),
};
/** If-Match and If-None-Match, on every route of one entry. */
const ConditionalHeaders = IfMatchHeader.extend(IfNoneMatchHeader.shape);
const preconditionFailed = { 412: problemResponseOf("If-Match did not match the current version") };

export const entryRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      tags,
      summary: "Create an entry",
      meta: { ...writer, audit: "entry.created" },
      request: { params: TenantParams, headers: IdempotencyHeader, body: { ...json(EntryBody), required: true } },
      responses: { 201: { description: "Created", headers: etagHeader, ...json(EntrySchema) }, ...dataErrors },
    }),
    async (c) => {
      const entry = await c.var.shard.createEntry(
        c.var.route.tenantId,
        c.req.valid("json"),
        c.var.route.limits,
        changeOf(c, 201),
      );
      c.set("written", 1);
      c.header("ETag", etagOf(entry));
      c.header("Location", `/v1/tenants/${c.var.route.tenantId}/entries/${entry.id}`);
      return c.json(entryView(entry), 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "List entries, newest first, optionally by tag",
      meta: reader,
      request: { params: TenantParams, query: PageQuery.extend(EntryListQuery.shape) },
      responses: { 200: { description: "A page of entries", ...json(pageOf(EntrySchema)) }, ...dataErrors },
    }),
    async (c) => {
      const { limit, cursor, tag } = c.req.valid("query");
      const result = await c.var.shard.listEntries(
        c.var.route.tenantId,
        { tag },
        { limit, after: cursorAfter(cursor, ID_PATTERN) },
      );
      return c.json(page(result, entryView), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{entryId}",
      tags,
      summary: "Get an entry",
      meta: reader,
      request: { params: EntryParams, headers: ConditionalHeaders },
      responses: {
        200: { description: "The entry", headers: etagHeader, ...json(EntrySchema) },
        304: { description: "Not modified since the ETag in If-None-Match" },
        ...dataErrors,
        ...preconditionFailed,
      },
    }),
    async (c) => {
      const entry = await c.var.shard.getEntry(c.var.route.tenantId, c.req.valid("param").entryId);
      c.header("ETag", etagOf(entry));
      const headers = c.req.valid("header");
      checkPrecondition(entry, { ifMatch: parseEntityTags(headers["if-match"]) });
      const ifNoneMatch = parseEntityTags(headers["if-none-match"], "weak");
      if (ifNoneMatch === "*" || ifNoneMatch?.includes(entry.version)) return c.body(null, 304);
      return c.json(entryView(entry), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "put",
      path: "/{entryId}",
      tags,
      summary: "Replace an entry; send If-Match for optimistic concurrency",
      meta: { ...writer, audit: "entry.replaced" },
      request: {
        params: EntryParams,
        headers: ConditionalHeaders,
        body: { ...json(EntryBody), required: true },
      },
      responses: {
        200: { description: "The new version", headers: etagHeader, ...json(EntrySchema) },
        ...dataErrors,
        ...preconditionFailed,
      },
    }),
    async (c) => {
      const precondition = preconditionOf(c.req.valid("header"));
      const entry = await c.var.shard.replaceEntry(
        c.var.route.tenantId,
        c.req.valid("param").entryId,
        c.req.valid("json"),
        precondition,
        c.var.route.limits,
        changeOf(c, 200),
      );
      c.set("written", 1);
      c.header("ETag", etagOf(entry));
      return c.json(entryView(entry), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "delete",
      path: "/{entryId}",
      tags,
      summary: "Delete an entry; If-Match or If-None-Match makes it conditional",
      meta: { ...writer, audit: "entry.deleted" },
      request: { params: EntryParams, headers: ConditionalHeaders },
      responses: { 204: { description: "Deleted" }, ...dataErrors, ...preconditionFailed },
    }),
    async (c) => {
      const precondition = preconditionOf(c.req.valid("header"));
      await c.var.shard.deleteEntry(c.var.route.tenantId, c.req.valid("param").entryId, precondition, changeOf(c, 204));
      c.set("written", 1);
      return c.body(null, 204);
    },
  );
