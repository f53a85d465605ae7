import type { Principal } from "../env";
import { errorResponses, IdempotencyHeader, PageQuery, pageOf, TenantParams, unprocessableResponse } from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { createRouter } from "../http/router";
import {
  AdminKeyParams,
  ApiKeySchema,
  CreateAdminKeyBody,
  CreatedApiKeySchema,
  CreateKeyBody,
  KeyParams,
  keyView,
} from "./api";
import { ALL_SCOPES } from "./scopes";
import { createKey, getKey, listKeys, revokeKey } from "./service";

const expiry = (value: string | undefined) => (value ? Date.parse(value) : null);

/** The key a request creates a key with: the new one may not outlive it, nor exceed its rate limit. */
const mintedBy = (principal: Principal) => ({
  tenantId: principal.kind === "tenant" ? principal.tenantId : null,
  keyId: principal.keyId,
});

const tenantGuard = { tenant: true, scope: "tenant:admin" } as const;
const tenantTags = ["API keys"];

export const tenantKeyRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      tags: tenantTags,
      summary: "Create an API key for the tenant; the secret is returned once",
      meta: { ...tenantGuard, audit: "key.created" },
      request: { params: TenantParams, headers: IdempotencyHeader, body: { ...json(CreateKeyBody), required: true } },
      responses: {
        201: { description: "Created", ...json(CreatedApiKeySchema) },
        ...errorResponses,
        ...unprocessableResponse,
      },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const { key, secret } = await createKey(c.var.db, c.var.emit, c.var.route.tenantId, {
        name: body.name,
        scopes: body.scopes,
        rateLimitPerMinute: body.rate_limit_per_minute ?? null,
        expiresAt: expiry(body.expires_at),
        // A user's key mints keys for that user, so demoting or removing the user reaches them too.
        userId: body.user_id ?? (c.var.principal.kind === "tenant" ? c.var.principal.userId : null),
        mintedBy: mintedBy(c.var.principal),
      });
      c.header("Cache-Control", "no-store");
      return c.json({ ...keyView(key), secret }, 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags: tenantTags,
      summary: "List the tenant's API keys (never their secrets)",
      meta: tenantGuard,
      request: { params: TenantParams, query: PageQuery },
      responses: { 200: { description: "A page of keys", ...json(pageOf(ApiKeySchema)) }, ...errorResponses },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const result = await listKeys(c.var.db, c.var.route.tenantId, {
        limit,
        after: cursorAfter(cursor, ID_PATTERN),
      });
      return c.json(page(result, keyView), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{keyId}",
      tags: tenantTags,
      summary: "Get an API key",
      meta: tenantGuard,
      request: { params: KeyParams },
      responses: { 200: { description: "The key", ...json(ApiKeySchema) }, ...errorResponses },
    }),
    async (c) => c.json(keyView(await getKey(c.var.db, c.var.route.tenantId, c.req.valid("param").keyId)), 200),
  )
  .openapi(
    defineRoute({
      method: "delete",
      path: "/{keyId}",
      tags: tenantTags,
      summary: "Revoke an API key; it stops working at once",
      meta: { ...tenantGuard, audit: "key.revoked" },
      request: { params: KeyParams },
      responses: { 200: { description: "The revoked key", ...json(ApiKeySchema) }, ...errorResponses },
    }),
    async (c) => {
      const key = await revokeKey(c.var.db, c.var.emit, c.var.route.tenantId, c.req.valid("param").keyId);
      return c.json(keyView(key), 200);
    },
  );

const adminTags = ["Platform-admin keys"];
const adminGuard = { platformAdmin: true } as const;

export const adminKeyRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      tags: adminTags,
      summary: "Create a platform-admin key; the secret is returned once",
      meta: { ...adminGuard, audit: "key.created" },
      request: { headers: IdempotencyHeader, body: { ...json(CreateAdminKeyBody), required: true } },
      responses: { 201: { description: "Created", ...json(CreatedApiKeySchema) }, ...errorResponses },
    }),
    async (c) => {
      const body = c.req.valid("json");
      const { key, secret } = await createKey(c.var.db, c.var.emit, null, {
        name: body.name,
        scopes: [...ALL_SCOPES],
        expiresAt: expiry(body.expires_at),
        mintedBy: mintedBy(c.var.principal),
      });
      c.header("Cache-Control", "no-store");
      return c.json({ ...keyView(key), secret }, 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags: adminTags,
      summary: "List platform-admin keys",
      meta: adminGuard,
      request: { query: PageQuery },
      responses: { 200: { description: "A page of keys", ...json(pageOf(ApiKeySchema)) }, ...errorResponses },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const result = await listKeys(c.var.db, null, { limit, after: cursorAfter(cursor, ID_PATTERN) });
      return c.json(page(result, keyView), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "delete",
      path: "/{keyId}",
      tags: adminTags,
      summary: "Revoke a platform-admin key",
      meta: { ...adminGuard, audit: "key.revoked" },
      request: { params: AdminKeyParams },
      responses: { 200: { description: "The revoked key", ...json(ApiKeySchema) }, ...errorResponses },
    }),
    async (c) => c.json(keyView(await revokeKey(c.var.db, c.var.emit, null, c.req.valid("param").keyId)), 200),
  );
