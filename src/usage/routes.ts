import { gateOf } from "../gate/client";
import { errorResponses, iso, TenantParams } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { createRouter } from "../http/router";
import { periodsOf, UNITS, UsageQuery, UsageSchema } from "./api";
import { isCounter, METERS } from "./record";
import { usageSeries } from "./service";

const tags = ["Usage"];

/** Mounted at /v1/tenants/:tenantId/usage. */
export const usageRoutes = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/",
    tags,
    summary:
      "The tenant's metered usage per hour, day or month: API calls, egress, entries written, exports, stored bytes",
    description:
      "Counters are sums; stored_bytes is a gauge (time-weighted average as quantity, with max and last level). Periods are UTC. Usage arrives through a queue: the last minute's may still be on its way.",
    meta: { tenant: true, scope: "tenant:admin" },
    request: { params: TenantParams, query: UsageQuery },
    responses: { 200: { description: "The tenant's usage", ...json(UsageSchema) }, ...errorResponses },
  }),
  async (c) => {
    const query = c.req.valid("query");
    const tenantId = c.var.route.tenantId;
    const now = Date.now();
    const { from, to } = periodsOf(query, now);
    // What the gate holds leaves for the queue now rather than at the end of the minute.
    await gateOf(c.env, tenantId)
      .flushMetrics()
      .catch(() => undefined);
    const meters = query.meter ? [query.meter] : [...METERS];
    const series = await Promise.all(
      meters.map(async (meter) => {
        const { points, total } = await usageSeries(c.var.db, tenantId, meter, query.granularity, from, to, now);
        return {
          meter,
          kind: isCounter(meter) ? ("counter" as const) : ("gauge" as const),
          unit: UNITS[meter],
          total: { quantity: total.quantity, max: total.max, last: total.last },
          points: points.map((point) => ({
            start: iso(point.start) as string,
            end: iso(point.end) as string,
            quantity: point.quantity,
            max: point.max,
            last: point.last,
          })),
        };
      }),
    );
    return c.json(
      {
        tenant_id: tenantId,
        granularity: query.granularity,
        from: iso(from) as string,
        to: iso(to) as string,
        meters: series,
      },
      200,
    );
  },
);
