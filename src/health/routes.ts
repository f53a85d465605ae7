import { z } from "@hono/zod-openapi";
import { errorResponses, problemResponseOf } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { AppError, controlPlaneUnavailable } from "../http/problems";
import { createRouter } from "../http/router";
import { LivenessSchema, ReadinessSchema, TenantHealthSchema } from "./api";
import { readiness, tenantHealth } from "./service";

const tags = ["Health"];

/** `GET /ping`: no authentication, no gate; the baseline the benchmark compares gated routes with. */
export const pingRoutes = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/",
    meta: {},
    tags,
    summary: "Liveness of the Worker (no authentication)",
    security: [],
    responses: { 200: { description: "Alive", ...json(z.object({ ok: z.literal(true) })) } },
  }),
  (c) => c.json({ ok: true as const }, 200),
);

/** `GET /v1/ping`: the cheapest authenticated call; checks a key and shows its limits in the headers. */
export const authenticatedPingRoutes = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/",
    meta: {},
    tags,
    summary: "Check an API key; the response carries the caller's rate-limit headers",
    responses: {
      200: {
        description: "The key works",
        ...json(z.object({ ok: z.literal(true), tenant_id: z.string().nullable(), key_id: z.string() })),
      },
      ...errorResponses,
    },
  }),
  (c) => {
    const principal = c.var.principal;
    return c.json(
      {
        ok: true as const,
        tenant_id: principal.kind === "tenant" ? principal.tenantId : null,
        key_id: principal.keyId,
      },
      200,
    );
  },
);

/** `GET /health` (liveness: no dependency is asked) and `GET /health/ready` (readiness). No authentication. */
export const healthRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      meta: {},
      tags,
      summary: "Liveness: the Worker runs (asks no dependency)",
      security: [],
      responses: { 200: { description: "Alive", ...json(LivenessSchema) } },
    }),
    (c) => c.json({ status: "UP" as const }, 200),
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/ready",
      meta: {},
      tags,
      summary: "Readiness: the control database answers and the lifecycle queue takes messages",
      description:
        "503 not-ready (its `checks` member says which failed) when either does not. The queue is probed with one message at most every 30 s per isolate.",
      security: [],
      responses: {
        200: { description: "Ready", ...json(ReadinessSchema) },
        503: problemResponseOf("Not ready: `checks` says what failed"),
      },
    }),
    async (c) => {
      const { ready, checks } = await readiness(c.var.db, c.env);
      if (!ready) throw new AppError("not-ready", undefined, { extensions: { status: "DOWN", checks } });
      return c.json({ status: "UP" as const, checks }, 200);
    },
  );

/** `GET /v1/health/tenants`. */
export const tenantHealthRoutes = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/tenants",
    meta: { platformAdmin: true },
    tags,
    summary:
      "The tenants' health: counts, tenants in error, provisioning time, cache, circuits, shards (platform admin)",
    description:
      "Answers 200 when DEGRADED too (`status` and `reasons` say so); only a control database that cannot be read gives 503.",
    responses: { 200: { description: "UP or DEGRADED", ...json(TenantHealthSchema) }, ...errorResponses },
  }),
  async (c) => {
    try {
      return c.json(await tenantHealth(c.var.db, c.env), 200);
    } catch (cause) {
      throw controlPlaneUnavailable("The tenants' health could not be read", cause);
    }
  },
);
