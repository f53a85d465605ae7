import { createMiddleware } from "hono/factory";
import { controlDb } from "../db/client";
import type { AppEnv } from "../env";

/** Hands every later middleware and handler the control database's client as `c.var.db`. */
export const withControlDb = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    c.set("db", controlDb(c.env));
    await next();
  });
