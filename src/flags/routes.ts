import { z } from "@hono/zod-openapi";
import {
  conflictResponse,
  errorResponses,
  IdempotencyHeader,
  PageQuery,
  TenantParams,
  unprocessableResponse,
} from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { createRouter } from "../http/router";
import {
  BulkEvaluateBody,
  CreateFlagBody,
  EvaluateBody,
  EvaluationSchema,
  FlagParams,
  FlagSchema,
  flagView,
  OverrideBody,
  TenantFlagParams,
  TenantFlagSchema,
  tenantFlagView,
  UpdateFlagBody,
} from "./api";
import { degradation } from "./degradation";
import { FlagKey } from "./model";
import {
  createFlag,
  deleteFlag,
  evaluateFlags,
  getFlag,
  getTenantFlag,
  listFlags,
  listTenantFlags,
  removeOverride,
  setOverride,
  updateFlag,
} from "./service";

const tags = ["Feature flags"];
const admin = { platformAdmin: true } as const;
const tenantAdmin = { tenant: true, scope: "tenant:admin" } as const;
// Applications evaluate with the keys they already read with.
const reader = { tenant: true, scope: "entries:read", readOnly: true } as const;

const FlagPage = z.object({ data: z.array(FlagSchema), next_cursor: z.string().nullable() });
const FlagPageQuery = PageQuery.extend({
  cursor: FlagKey.optional().openapi({ description: "The last key of the page before" }),
});

/** Mounted at /v1/flags: the platform's definitions (platform admins; recorded in the platform trail). */
export const flagRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/",
      tags,
      summary: "Define a platform-wide feature flag",
      meta: { ...admin, audit: "flag.created" },
      request: { headers: IdempotencyHeader, body: { ...json(CreateFlagBody), required: true } },
      responses: {
        201: { description: "Defined", ...json(FlagSchema) },
        ...errorResponses,
        ...conflictResponse,
        ...unprocessableResponse,
      },
    }),
    async (c) => {
      const flag = await createFlag(c.var.db, c.req.valid("json"));
      c.header("Location", `/v1/flags/${flag.key}`);
      return c.json(flagView(flag), 201);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "The platform's flags, in key order",
      meta: admin,
      request: { query: FlagPageQuery },
      responses: { 200: { description: "A page of flags", ...json(FlagPage) }, ...errorResponses },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const { items, more } = await listFlags(c.var.db, { limit, after: cursor });
      const last = items.at(-1);
      return c.json({ data: items.map(flagView), next_cursor: more && last ? last.key : null }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{flagKey}",
      tags,
      summary: "A flag's definition",
      meta: admin,
      request: { params: FlagParams },
      responses: { 200: { description: "The flag", ...json(FlagSchema) }, ...errorResponses },
    }),
    async (c) => c.json(flagView(await getFlag(c.var.db, c.req.valid("param").flagKey)), 200),
  )
  .openapi(
    defineRoute({
      method: "patch",
      path: "/{flagKey}",
      tags,
      summary: "Change a flag's definition (its type stays)",
      description: "Every field sent replaces the definition's. Seen by every evaluation within 1 s.",
      meta: { ...admin, audit: "flag.updated" },
      request: { params: FlagParams, body: { ...json(UpdateFlagBody), required: true } },
      responses: {
        200: { description: "The flag", ...json(FlagSchema) },
        ...errorResponses,
        ...conflictResponse,
        ...unprocessableResponse,
      },
    }),
    async (c) => c.json(flagView(await updateFlag(c.var.db, c.req.valid("param").flagKey, c.req.valid("json"))), 200),
  )
  .openapi(
    defineRoute({
      method: "delete",
      path: "/{flagKey}",
      tags,
      summary: "Delete a flag and every tenant's override of it",
      meta: { ...admin, audit: "flag.deleted" },
      request: { params: FlagParams },
      responses: { 204: { description: "Deleted" }, ...errorResponses },
    }),
    async (c) => {
      await deleteFlag(c.var.db, c.var.emit, c.req.valid("param").flagKey);
      return c.body(null, 204);
    },
  );

/** Mounted at /v1/tenants/:tenantId/flags: the tenant's view, its overrides and evaluation. */
export const tenantFlagRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/evaluate",
      tags,
      summary: "Evaluate one flag for a context (OpenFeature resolution details)",
      description:
        "Never a 5xx for a flag that does not exist: the answer is `default_value` with reason ERROR and errorCode FLAG_NOT_FOUND. The context gets `tenantId` and `tier` from the platform.",
      meta: reader,
      request: { params: TenantParams, body: { ...json(EvaluateBody), required: true } },
      responses: { 200: { description: "The resolution", ...json(EvaluationSchema) }, ...errorResponses },
    }),
    async (c) => {
      const { flag, context, default_value } = c.req.valid("json");
      const evaluations = await evaluateFlags(c.env, c.var.db, c.var.route, [flag], context, {
        [flag]: default_value,
      });
      return c.json(evaluations[0] as z.infer<typeof EvaluationSchema>, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/evaluate/bulk",
      tags,
      summary: "Evaluate several flags, or every flag, for one context",
      meta: reader,
      request: { params: TenantParams, body: { ...json(BulkEvaluateBody), required: true } },
      responses: {
        200: {
          description: "One resolution per flag",
          ...json(z.object({ flags: z.array(EvaluationSchema) })),
        },
        ...errorResponses,
      },
    }),
    async (c) => {
      const { flags, context } = c.req.valid("json");
      const evaluations = await evaluateFlags(c.env, c.var.db, c.var.route, flags ?? "all", context);
      return c.json({ flags: evaluations as z.infer<typeof EvaluationSchema>[] }, 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "Every platform flag as the tenant sees it: the definition, its override, the two merged",
      meta: tenantAdmin,
      request: { params: TenantParams },
      responses: {
        200: { description: "The flags", ...json(z.object({ data: z.array(TenantFlagSchema) })) },
        ...errorResponses,
      },
    }),
    async (c) => c.json({ data: (await listTenantFlags(c.var.db, c.var.route.tenantId)).map(tenantFlagView) }, 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/{flagKey}",
      tags,
      summary: "One flag as the tenant sees it",
      meta: tenantAdmin,
      request: { params: TenantFlagParams },
      responses: { 200: { description: "The flag", ...json(TenantFlagSchema) }, ...errorResponses },
    }),
    async (c) =>
      c.json(tenantFlagView(await getTenantFlag(c.var.db, c.var.route.tenantId, c.req.valid("param").flagKey)), 200),
  )
  .openapi(
    defineRoute({
      method: "put",
      path: "/{flagKey}",
      tags,
      summary: "Set the tenant's override of a flag (replacing any before)",
      description:
        "The fields sent replace the platform's for this tenant: `enabled: false` is the tenant's kill switch. Seen by the tenant's evaluations within 1 s; emits flag.overridden.",
      meta: { ...tenantAdmin, audit: "flag.overridden" },
      request: { params: TenantFlagParams, body: { ...json(OverrideBody), required: true } },
      responses: {
        200: { description: "The flag as the tenant now sees it", ...json(TenantFlagSchema) },
        ...errorResponses,
        ...unprocessableResponse,
      },
    }),
    async (c) => {
      const { flagKey } = c.req.valid("param");
      const result = await setOverride(c.var.db, c.var.emit, c.var.route.tenantId, flagKey, c.req.valid("json"));
      return c.json(tenantFlagView(result), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "delete",
      path: "/{flagKey}",
      tags,
      summary: "Remove the tenant's override: the platform's definition applies again",
      meta: { ...tenantAdmin, audit: "flag.override_removed" },
      request: { params: TenantFlagParams },
      responses: { 204: { description: "Removed" }, ...errorResponses },
    }),
    async (c) => {
      await removeOverride(c.var.db, c.var.emit, c.var.route.tenantId, c.req.valid("param").flagKey);
      return c.body(null, 204);
    },
  );

const DegradationSchema = z
  .object({
    data: z.array(
      z.object({
        key: z.string(),
        sheds: z.string(),
        defined: z.boolean().openapi({ description: "Whether a flag of this key exists (none: the switch is off)" }),
        on: z.boolean(),
      }),
    ),
  })
  .openapi("Degradation");

/** Mounted at /v1/admin/degradation. */
export const degradationRoutes = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/",
    tags,
    summary: "The degrade switches and which are shedding work now",
    description:
      "A switch is a boolean platform flag with `degrade: true` under one of these keys; it sheds its work while it evaluates to true. Create it off, then PATCH `enabled`.",
    meta: admin,
    responses: { 200: { description: "The switches", ...json(DegradationSchema) }, ...errorResponses },
  }),
  async (c) => c.json({ data: await degradation(c.env, c.var.db) }, 200),
);
