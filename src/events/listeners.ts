import { systemActor } from "../auth/actor";
import { controlDb } from "../db/client";
import { tenantChanged } from "../gate/client";
import { loadRoute } from "../routing/route";
import { CLOSE_KEY_REVOKED, CLOSE_TENANT_GONE } from "../stream/connection";
import { hubOf } from "../stream/protocol";
import { type DomainEventType, type Emit, emitter, type Listener } from "./domain";
import type { ChangeOrigin } from "./event";

/**
 * The tenant's gate and this isolate's route cache hold the tenant, its plan limits, its keys and
 * its users' roles: a change to any of them reloads them at once, so the next request from any
 * isolate sees it. (New keys and users need nothing: the gate loads a key it lacks.)
 */
const gateInvalidation: Listener = {
  name: "gate-invalidation",
  types: new Set<DomainEventType>([
    "tenant.updated",
    "tenant.provisioned",
    "tenant.deleted",
    "tenant.restored",
    "tenant.archived",
    "key.revoked",
    "user.updated",
    "user.deleted",
  ]),
  handle: async (env, event) => {
    if (event.tenantId !== null) await tenantChanged(env, event.tenantId);
  },
};

/**
 * A tenant's stream connections close when what opened them no longer holds: the key that asked
 * for the ticket revoked, the tenant deleted, archived or no longer ACTIVE.
 */
const streamClosure: Listener = {
  name: "stream-closure",
  types: new Set<DomainEventType>(["key.revoked", "tenant.deleted", "tenant.archived", "tenant.updated"]),
  handle: async (env, event) => {
    if (event.tenantId === null) return;
    const hub = hubOf(env, event.tenantId);
    if (event.type === "key.revoked") {
      await hub.closeConnections(CLOSE_KEY_REVOKED, "the key was revoked", event.keyId);
      return;
    }
    if (event.type === "tenant.updated") {
      const route = await loadRoute(controlDb(env), event.tenantId);
      if (route?.status === "ACTIVE") return;
    }
    await hub.closeConnections(CLOSE_TENANT_GONE, "the tenant is not active");
  },
};

/** Every in-process listener of domain events. */
export const LISTENERS: readonly Listener[] = [gateInvalidation, streamClosure];

/**
 * The Emit of this Worker: domain events go to LISTENERS. A request's names the request and its
 * caller (src/http/control-plane.ts); without one, the changes are a system job's.
 */
export const domainEvents = (env: Env, origin: () => ChangeOrigin = () => systemOrigin("system")): Emit =>
  emitter(env, LISTENERS, origin);

export const systemOrigin = (job: string): ChangeOrigin => ({ requestId: null, actor: systemActor(job) });
