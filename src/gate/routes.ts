import { errorResponses, TenantParams } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { createRouter } from "../http/router";
import { LimitsSchema, RESET_SCOPES, ResetLimitsBody } from "./api";
import { limitsOf, resetLimits } from "./service";

const tags = ["Limits"];
const guard = { tenant: true, scope: "tenant:admin" } as const;

export const limitRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "Rate-limit windows, monthly quota, in-flight requests, circuits and storage of a tenant",
      meta: guard,
      request: { params: TenantParams },
      responses: { 200: { description: "The tenant's limits and usage", ...json(LimitsSchema) }, ...errorResponses },
    }),
    async (c) => c.json(await limitsOf(c.env, c.var.route), 200),
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/reset",
      tags,
      summary: "Reset rate windows, the monthly quota, concurrency slots or circuits",
      meta: { ...guard, audit: "limits.reset" },
      request: { params: TenantParams, body: { ...json(ResetLimitsBody), required: false } },
      responses: { 200: { description: "The limits after the reset", ...json(LimitsSchema) }, ...errorResponses },
    }),
    async (c) => {
      // With no body at all the validator is skipped, so the default is applied here.
      const scopes = c.req.valid("json")?.scopes ?? [...RESET_SCOPES];
      const view = await resetLimits(c.env, c.var.route, scopes, c.var.principal.kind === "platform_admin");
      return c.json(view, 200);
    },
  );
