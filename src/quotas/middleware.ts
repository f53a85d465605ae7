import { createMiddleware } from "hono/factory";
import { errorText } from "../db/errors";
import type { AppEnv } from "../env";
import { nudgeRelay } from "../events/nudge";
import { AppError } from "../http/problems";
import { quotaTripped } from "./service";
import type { Quota } from "./table";

/**
 * A write the plan's entry or storage quota refused trips that quota: recorded after the response,
 * with its `quota.exceeded` event the first time in the period (src/quotas/service.ts).
 */
export const reportStorageQuota = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    await next();
    const error = c.error;
    if (!(error instanceof AppError) || error.type !== "storage-quota-exceeded") return;
    const { quota, limit } = (error.extensions ?? {}) as { quota?: Quota; limit?: number | null };
    if (!quota || typeof limit !== "number") return;
    const { db } = c.var;
    const tenantId = c.var.route.tenantId;
    c.executionCtx.waitUntil(
      quotaTripped(db, tenantId, quota, limit)
        .then((first) => (first ? nudgeRelay(c.env, db, tenantId) : undefined))
        .catch((cause: unknown) =>
          console.warn(
            JSON.stringify({
              level: "warn",
              msg: "quota trip not recorded",
              tenant_id: tenantId,
              error: errorText(cause),
            }),
          ),
        ),
    );
  });
