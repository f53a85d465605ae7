import { gateOf } from "../gate/client";
import { errorResponses, TenantParams } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { createRouter } from "../http/router";
import { InvoicePreviewSchema, invoiceView } from "./api";
import { invoicePreview } from "./service";

/** Mounted at /v1/tenants/:tenantId/invoice-preview. */
export const invoiceRoutes = createRouter().openapi(
  defineRoute({
    method: "get",
    path: "/",
    tags: ["Usage"],
    summary: "The tenant's invoice for the current period so far: base price, metered lines by tier, quotas",
    description:
      "Amounts are integers in the minor units of the plan's currency. Tiers follow Stripe's tiers_mode: graduated prices each unit by its tier, volume prices every unit by the tier the quantity falls in; up_to is inclusive. The period is the calendar month (UTC).",
    meta: { tenant: true, scope: "tenant:admin" },
    request: { params: TenantParams },
    responses: { 200: { description: "The preview", ...json(InvoicePreviewSchema) }, ...errorResponses },
  }),
  async (c) => {
    const route = c.var.route;
    await gateOf(c.env, route.tenantId)
      .flushMetrics()
      .catch(() => undefined);
    return c.json(invoiceView(await invoicePreview(c.var.db, c.env, route)), 200);
  },
);
