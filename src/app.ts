import { OpenAPIHono } from "@hono/zod-openapi";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import { auditTrail } from "./audit/middleware";
import { platformAuditRoutes, tenantAuditRoutes } from "./audit/routes";
import { authenticate } from "./auth/authenticate";
import { backupRoutes } from "./backups/routes";
import { deadLetterRoutes } from "./dead-letters/routes";
import { docsRoutes } from "./docs/routes";
import { entryRoutes } from "./entries/routes";
import type { AppEnv } from "./env";
import { eventRoutes } from "./events/routes";
import { downloadRoutes, exportRoutes } from "./exports/routes";
import { ofrepRoutes } from "./flags/ofrep";
import { degradationRoutes, flagRoutes, tenantFlagRoutes } from "./flags/routes";
import { limitRoutes } from "./gate/routes";
import { authenticatedPingRoutes, healthRoutes, pingRoutes, tenantHealthRoutes } from "./health/routes";
import { limitBody } from "./http/body-limit";
import { cacheControl } from "./http/cache-control";
import { controlPlane } from "./http/control-plane";
import { configurableCors } from "./http/cors";
import { idempotency } from "./http/idempotency";
import { jsonBody } from "./http/json-body";
import { notFoundHandler } from "./http/not-found";
import { onError } from "./http/on-error";
import { invoiceRoutes } from "./invoices/routes";
import { adminKeyRoutes, tenantKeyRoutes } from "./keys/routes";
import { meRoutes } from "./me/routes";
import { requestMetrics } from "./metrics/middleware";
import { prometheusRoutes, tenantMetricRoutes } from "./metrics/routes";
import { moveRoutes } from "./moves/routes";
import { reportStorageQuota } from "./quotas/middleware";
import { restoreRoutes } from "./restores/routes";
import { shardRoutes } from "./shards/routes";
import { streamRoutes } from "./stream/routes";
import { tenantRoutes } from "./tenants/routes";
import { usageRoutes } from "./usage/routes";
import { userRoutes } from "./users/routes";
import { webhookRoutes } from "./webhooks/routes";

export const API_VERSION = "0.1.0";

/** Builds the whole HTTP surface; index.ts only hands it to the runtime. */
export function createApp() {
  const app = new OpenAPIHono<AppEnv>();

  app.use(requestId({ generator: () => crypto.randomUUID() }));
  // Outermost but for the request id: a request's latency includes its authentication and refusal.
  app.use(requestMetrics());
  app.use(cacheControl());
  // JSON needs no sources at all; the docs page sets its own policy, which this leaves alone.
  app.use(
    secureHeaders({ overwrite: false, contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } }),
  );
  app.use(configurableCors());
  app.use(limitBody());
  app.use("/v1/*", controlPlane());
  app.use("/metrics", controlPlane());
  app.use("/health/ready", controlPlane());
  // Before authentication, so its refusals are recorded too.
  app.use("/v1/*", auditTrail());
  app.use("/v1/*", authenticate());
  app.use("/v1/*", jsonBody());
  // OpenFeature's providers evaluate with a tenant key (src/flags/ofrep.ts), admitted by its gate as any request.
  app.use("/ofrep/*", controlPlane());
  app.use("/ofrep/*", authenticate());
  app.use("/v1/*", idempotency());
  // An entry write its plan's quota refused trips the quota (a quota.exceeded event once a period).
  app.use("/v1/tenants/:tenantId/entries/*", reportStorageQuota());
  // The document changes with each deploy; a cache must ask again every time.
  app.use("/openapi.json", async (c, next) => {
    await next();
    c.header("Cache-Control", "no-cache");
  });

  app.route("/ping", pingRoutes);
  app.route("/health", healthRoutes);
  app.route("/v1/health", tenantHealthRoutes);
  app.route("/v1/ping", authenticatedPingRoutes);
  app.route("/v1/me", meRoutes);
  app.route("/v1/admin/keys", adminKeyRoutes);
  app.route("/v1/admin/dead-letters", deadLetterRoutes);
  app.route("/v1/admin/degradation", degradationRoutes);
  app.route("/v1/tenants", tenantRoutes);
  app.route("/v1/tenants/:tenantId/users", userRoutes);
  app.route("/v1/tenants/:tenantId/keys", tenantKeyRoutes);
  app.route("/v1/tenants/:tenantId/entries", entryRoutes);
  app.route("/v1/tenants/:tenantId/limits", limitRoutes);
  app.route("/v1/tenants/:tenantId/events", eventRoutes);
  app.route("/v1/tenants/:tenantId/audit", tenantAuditRoutes);
  app.route("/v1/tenants/:tenantId/exports", exportRoutes);
  app.route("/v1/tenants/:tenantId/backups", backupRoutes);
  app.route("/v1/tenants/:tenantId/metrics", tenantMetricRoutes);
  app.route("/v1/tenants/:tenantId/usage", usageRoutes);
  app.route("/v1/tenants/:tenantId/invoice-preview", invoiceRoutes);
  app.route("/v1/tenants/:tenantId/flags", tenantFlagRoutes);
  app.route("/v1/tenants/:tenantId/webhooks", webhookRoutes);
  app.route("/v1/tenants/:tenantId/stream", streamRoutes);
  app.route("/v1/flags", flagRoutes);
  app.route("/ofrep/v1", ofrepRoutes);
  app.route("/v1/audit", platformAuditRoutes);
  app.route("/v1/tenants/:tenantId", moveRoutes);
  app.route("/v1/tenants", restoreRoutes);
  app.route("/v1/shards", shardRoutes);
  app.route("/downloads", downloadRoutes);
  app.route("/metrics", prometheusRoutes);

  app.openAPIRegistry.registerComponent("securitySchemes", "apiKey", {
    type: "http",
    scheme: "bearer",
    description: "An API key: `Authorization: Bearer etk_…`",
  });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "edge-tenancy",
      version: API_VERSION,
      description: "Multi-tenant platform kernel on Cloudflare Workers. Errors are RFC 9457 problem+json.",
    },
    // Relative to the document itself: copying the request's Host here would let a forged Host
    // header point readers of the document (and the docs page's "Try it out") elsewhere.
    servers: [{ url: "/" }],
    security: [{ apiKey: [] }],
  });
  app.route("/docs", docsRoutes);
  app.get("/", (c) => c.json({ name: "edge-tenancy", version: API_VERSION, docs: "/docs", openapi: "/openapi.json" }));

  app.onError(onError);
  app.notFound(notFoundHandler(app));
  return app;
}
