import { createMiddleware } from "hono/factory";
import { controlDb } from "../db/client";
import type { AppEnv } from "../env";
import { AppError } from "../http/problems";
import { openShard } from "./connection";
import { getShard } from "./service";

/** Opens the shard holding `c.var.tenant`'s data; the tenant must be ACTIVE. Runs after tenantAccess. */
export const tenantShard = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const tenant = c.var.tenant;
    if (tenant.status !== "ACTIVE" || !tenant.shardId) {
      throw new AppError("tenant-not-ready", `The tenant is ${tenant.status}`);
    }
    c.set("shardDb", openShard(c.env, await getShard(controlDb(c.env), tenant.shardId)));
    await next();
  });
