import {
  conflictResponse,
  errorResponses,
  IdempotencyHeader,
  PageQuery,
  pageOf,
  TenantParams,
  unprocessableResponse,
} from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { AppError } from "../http/problems";
import { createRouter } from "../http/router";
import { deleteTenant, restoreTenant } from "../lifecycle/deletion";
import { moveToPlanPool } from "../moves/service";
import {
  CreateTenantBody,
  DeleteTenantQuery,
  TenantListQuery,
  TenantSchema,
  tenantView,
  UpdateTenantBody,
} from "./api";
import { createTenant, getTenant, listTenants, retryProvisioning, updateTenant } from "./service";

const tags = ["Tenants"];

const create = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Create and provision a tenant (platform admin)",
  meta: { platformAdmin: true, audit: "tenant.created" },
  request: { headers: IdempotencyHeader, body: { ...json(CreateTenantBody), required: true } },
  responses: {
    201: { description: "Created; status is ACTIVE, or PROVISION_ERROR with a reason", ...json(TenantSchema) },
    ...errorResponses,
    ...conflictResponse,
    ...unprocessableResponse,
  },
});

const list = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List tenants (platform admin)",
  meta: { platformAdmin: true },
  request: { query: PageQuery.extend(TenantListQuery.shape) },
  responses: { 200: { description: "A page of tenants", ...json(pageOf(TenantSchema)) }, ...errorResponses },
});

const get = defineRoute({
  method: "get",
  path: "/{tenantId}",
  tags,
  summary: "Get a tenant (platform admin, or the tenant's key with tenant:admin)",
  meta: { tenant: true, scope: "tenant:admin", dormantTenant: true },
  request: { params: TenantParams },
  responses: { 200: { description: "The tenant", ...json(TenantSchema) }, ...errorResponses },
});

const update = defineRoute({
  method: "patch",
  path: "/{tenantId}",
  tags,
  summary: "Rename, change tier or limit overrides, suspend or resume a tenant (platform admin)",
  description:
    "A tier change to or from a plan with a dedicated shard starts a move of the tenant's data to a shard of the new pool; `Location` then names the move.",
  meta: { tenant: true, platformAdmin: true, audit: "tenant.updated" },
  request: { params: TenantParams, body: { ...json(UpdateTenantBody), required: true } },
  responses: {
    200: { description: "The updated tenant", ...json(TenantSchema) },
    ...errorResponses,
    ...conflictResponse,
    ...unprocessableResponse,
  },
});

const reprovision = defineRoute({
  method: "post",
  path: "/{tenantId}/provision",
  tags,
  summary: "Retry provisioning of a tenant in PROVISION_ERROR (platform admin)",
  meta: { tenant: true, platformAdmin: true, audit: "tenant.provisioned" },
  request: { params: TenantParams, headers: IdempotencyHeader },
  responses: {
    200: { description: "The tenant after the attempt", ...json(TenantSchema) },
    ...errorResponses,
    ...conflictResponse,
  },
});

const remove = defineRoute({
  method: "delete",
  path: "/{tenantId}",
  tags,
  summary: "Delete the tenant: soft, restorable for 30 days, then purged; or ?hard=true to purge now",
  description:
    "Answers 202 with the tenant in DELETED: its keys are refused within a second, its routes answer a platform admin 410 tenant-deleted with `purge_after`. The daily purge then removes it from every dataset (shards, control database, its gate, its archives). `hard=true` is for platform admins only; it also applies to a tenant already DELETED.",
  meta: { tenant: true, scope: "tenant:admin", deletedTenant: true, dormantTenant: true, audit: "tenant.deleted" },
  request: { params: TenantParams, query: DeleteTenantQuery },
  responses: {
    202: { description: "The tenant, DELETED, with its purge date", ...json(TenantSchema) },
    ...errorResponses,
    ...conflictResponse,
  },
});

const restore = defineRoute({
  method: "post",
  path: "/{tenantId}/restore",
  tags,
  summary: "Restore a soft-deleted tenant before its purge (platform admin)",
  meta: { tenant: true, platformAdmin: true, deletedTenant: true, audit: "tenant.restored" },
  request: { params: TenantParams, headers: IdempotencyHeader },
  responses: {
    200: { description: "The tenant, in the status it had before", ...json(TenantSchema) },
    ...errorResponses,
    ...conflictResponse,
  },
});

export const tenantRoutes = createRouter()
  .openapi(create, async (c) => {
    const body = c.req.valid("json");
    const tenant = await createTenant(c.var.db, c.var.emit, c.env, {
      name: body.name,
      slug: body.slug,
      tier: body.tier,
      trialEndsAt: body.trial_ends_at ? Date.parse(body.trial_ends_at) : null,
      dataRegion: body.data_region ?? null,
      shardId: body.shard_id ?? null,
    });
    c.header("Location", `/v1/tenants/${tenant.id}`);
    return c.json(tenantView(tenant), 201);
  })
  .openapi(list, async (c) => {
    const { limit, cursor, status, tier } = c.req.valid("query");
    const result = await listTenants(c.var.db, { status, tier }, { limit, after: cursorAfter(cursor, ID_PATTERN) });
    return c.json(page(result, tenantView), 200);
  })
  .openapi(get, async (c) => c.json(tenantView(await getTenant(c.var.db, c.var.route.tenantId)), 200))
  .openapi(update, async (c) => {
    const { db } = c.var;
    const patch = c.req.valid("json");
    const tenant = await updateTenant(db, c.var.emit, c.var.route.tenantId, patch);
    // A tier whose plan wants the other pool (dedicated or shared) takes the tenant's data there.
    const move = patch.tier !== undefined ? await moveToPlanPool(db, c.env, tenant.id) : null;
    if (move) c.header("Location", `/v1/tenants/${tenant.id}/moves/${move.id}`);
    return c.json(tenantView(tenant), 200);
  })
  .openapi(reprovision, async (c) => {
    const tenant = await retryProvisioning(c.var.db, c.var.emit, c.env, c.var.route.tenantId);
    return c.json(tenantView(tenant), 200);
  })
  .openapi(remove, async (c) => {
    const hard = c.req.valid("query").hard === "true";
    if (hard && c.var.principal.kind !== "platform_admin") {
      throw new AppError("forbidden", "Only a platform admin may purge a tenant at once");
    }
    // A tenant key may delete its own tenant, but not one already deleted (its keys no longer open it).
    const tenant = await deleteTenant(c.var.db, c.var.emit, c.env, c.var.route.tenantId, { hard });
    return c.json(tenantView(tenant), 202);
  })
  .openapi(restore, async (c) =>
    c.json(tenantView(await restoreTenant(c.var.db, c.var.emit, c.var.route.tenantId)), 200),
  );
