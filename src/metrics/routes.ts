import { z } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { authenticate } from "../auth/authenticate";
import { requirePlatformAdmin } from "../auth/authorize";
import type { AppEnv } from "../env";
import { gateOf } from "../gate/client";
import { errorResponses, TenantParams } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { controlPlaneUnavailable } from "../http/problems";
import { createRouter } from "../http/router";
import { digestsEqual, sha256Hex } from "../keys/secret";
import { MetricsQuery, TenantMetricsSchema } from "./api";
import { CONTENT_TYPE } from "./exposition";
import { platformExposition, tenantMetrics } from "./service";

const tags = ["Metrics"];

/**
 * A scraper's bearer token (the METRICS_TOKEN secret, when set) or a platform-admin key. The token
 * is compared by digest, so the comparison takes the same time whatever it matches.
 */
const scraperOrAdmin = () => {
  const asAdmin = authenticate();
  const adminOnly = requirePlatformAdmin();
  return createMiddleware<AppEnv>(async (c, next) => {
    const token = (c.env as { METRICS_TOKEN?: string }).METRICS_TOKEN;
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header("Authorization") ?? "")?.[1];
    if (token && presented && digestsEqual(sha256Hex(presented), sha256Hex(token))) await next();
    else await asAdmin(c, async () => void (await adminOnly(c, next)));
  });
};

/** Mounted at /metrics. */
export const prometheusRoutes = createRouter();
prometheusRoutes.use("/", scraperOrAdmin());
prometheusRoutes.openapi(
  defineRoute({
    method: "get",
    path: "/",
    tags,
    summary: "Prometheus metrics of the platform (text exposition format 0.0.4)",
    description:
      "Tier- and platform-level series always; per-tenant series for the METRICS_TOP_TENANTS busiest tenants of the last hour only. Authenticate with a platform-admin key or the METRICS_TOKEN secret as a bearer token. Figures lag requests by up to a minute.",
    meta: {},
    responses: {
      200: { description: "The exposition", content: { [CONTENT_TYPE]: { schema: z.string() } } },
      ...errorResponses,
    },
  }),
  async (c) => {
    let text: string;
    try {
      text = await platformExposition(c.var.db, c.env);
    } catch (cause) {
      throw controlPlaneUnavailable("The metrics could not be read", cause);
    }
    return c.text(text, 200, { "Content-Type": CONTENT_TYPE });
  },
);

/** Mounted at /v1/tenants/:tenantId/metrics. */
export const tenantMetricRoutes = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/",
    tags,
    summary: "The tenant's request metrics over a window: rate, error rates, latency quantiles, by route and shard",
    meta: { tenant: true, scope: "tenant:admin" },
    request: { params: TenantParams, query: MetricsQuery },
    responses: { 200: { description: "The tenant's metrics", ...json(TenantMetricsSchema) }, ...errorResponses },
  }),
  async (c) => {
    const { window } = c.req.valid("query");
    const tenantId = c.var.route.tenantId;
    // The gate sends what it holds first, so the current minute counts too; if it cannot, the
    // figures already sent still answer.
    await gateOf(c.env, tenantId)
      .flushMetrics()
      .catch(() => undefined);
    return c.json(await tenantMetrics(c.var.db, tenantId, window), 200);
  },
);
