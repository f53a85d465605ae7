import { z } from "@hono/zod-openapi";
import { errorResponses } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { createRouter } from "../http/router";
import { SCOPES } from "../keys/scopes";
import { getKey } from "../keys/service";
import { TenantSchema, tenantView } from "../tenants/api";
import { getTenant } from "../tenants/service";

const MeSchema = z
  .object({
    kind: z.enum(["platform_admin", "tenant"]),
    key: z.object({
      id: z.string(),
      name: z.string(),
      prefix: z.string(),
      scopes: z.array(z.enum(SCOPES)).openapi({ description: "Effective scopes, after the user's role cap" }),
      expires_at: z.string().nullable(),
    }),
    user_id: z.string().nullable(),
    tenant: z.union([TenantSchema, z.null()]),
  })
  .openapi("Me");

export const meRoutes = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/",
    meta: {},
    tags: ["Identity"],
    summary: "Who the caller is: key, scopes and tenant",
    responses: { 200: { description: "The caller", ...json(MeSchema) }, ...errorResponses },
  }),
  async (c) => {
    const principal = c.var.principal;
    const { db } = c.var;
    const tenantId = principal.kind === "tenant" ? principal.tenantId : null;
    const [key, tenant] = await Promise.all([
      getKey(db, tenantId, principal.keyId),
      tenantId ? getTenant(db, tenantId) : Promise.resolve(null),
    ]);
    return c.json(
      {
        kind: principal.kind,
        key: {
          id: key.id,
          name: key.name,
          prefix: key.prefix,
          scopes: [...principal.scopes],
          expires_at: key.expiresAt === null ? null : new Date(key.expiresAt).toISOString(),
        },
        user_id: principal.kind === "tenant" ? principal.userId : null,
        tenant: tenant ? tenantView(tenant) : null,
      },
      200,
    );
  },
);
