import { z } from "@hono/zod-openapi";
import { errorResponses } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { createRouter } from "../http/router";

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
