import { z } from "@hono/zod-openapi";
import { iso, Timestamp } from "../http/api";
import { QUOTAS } from "../quotas/table";
import { METERS } from "../usage/record";
import type { invoicePreview } from "./service";

const AppliedTier = z.object({
  up_to: z.number().int().nullable().openapi({ description: "The tier's last quantity, inclusive; null: unbounded" }),
  quantity: z.number().int(),
  unit_amount_decimal: z.string().openapi({ description: "Per unit, in minor units, up to 12 decimals" }),
  flat_amount: z.number().int(),
  amount_decimal: z.string().openapi({ description: "Exact, in minor units" }),
});

const Line = z.discriminatedUnion("type", [
  z.object({ type: z.literal("base"), description: z.string(), amount: z.number().int() }),
  z.object({
    type: z.literal("usage"),
    meter: z.enum(METERS),
    description: z.string(),
    quantity: z.number().openapi({ description: "Used this period (a gauge: its time-weighted average)" }),
    included: z.number().int(),
    billable: z
      .number()
      .int()
      .openapi({ description: "Past the included units, in packages of the price's divide_by" }),
    tiers_mode: z.enum(["graduated", "volume"]),
    tiers: z.array(AppliedTier),
    amount: z.number().int().openapi({ description: "Minor units: the tiers' exact sum, rounded half up" }),
  }),
]);

export const InvoicePreviewSchema = z
  .object({
    tenant_id: z.string(),
    plan: z.object({ tier: z.string(), name: z.string() }),
    currency: z.string().openapi({ example: "usd" }),
    period: z.object({ start: Timestamp, end: Timestamp }),
    lines: z.array(Line),
    subtotal: z.number().int().openapi({ description: "Minor units of the currency" }),
    total: z.number().int(),
    quotas: z.array(
      z.object({
        quota: z.enum(QUOTAS),
        used: z.number().int(),
        limit: z.number().int().nullable(),
        percent: z.number().nullable(),
        exceeded: z.boolean(),
        first_exceeded_at: Timestamp.nullable().openapi({
          description: "When it first refused the tenant this period",
        }),
      }),
    ),
    generated_at: Timestamp,
  })
  .openapi("InvoicePreview");

export const invoiceView = (
  preview: Awaited<ReturnType<typeof invoicePreview>>,
): z.infer<typeof InvoicePreviewSchema> => ({
  ...preview,
  period: { start: iso(preview.period.start) as string, end: iso(preview.period.end) as string },
  quotas: preview.quotas.map((quota) => ({ ...quota, first_exceeded_at: iso(quota.first_exceeded_at) })),
  generated_at: iso(preview.generated_at) as string,
});
