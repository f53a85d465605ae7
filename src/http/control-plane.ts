import { createMiddleware } from "hono/factory";
import { actorOf, systemActor } from "../auth/actor";
import { controlDb } from "../db/client";
import type { AppEnv } from "../env";
import { domainEvents } from "../events/listeners";

/**
 * Hands every later middleware and handler the control database's client as `c.var.db`, and the
 * domain events' Emit as `c.var.emit`, which the domain functions that change the control plane take.
 */
export const controlPlane = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    c.set("db", controlDb(c.env));
    c.set(
      "emit",
      domainEvents(c.env, () => ({
        requestId: c.var.requestId,
        actor: c.var.principal ? actorOf(c.var.principal) : systemActor("unauthenticated"),
      })),
    );
    await next();
  });
