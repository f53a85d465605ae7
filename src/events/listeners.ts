import { systemActor } from "../auth/actor";
import { tenantChanged } from "../gate/client";
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

/** Every in-process listener of domain events. */
export const LISTENERS: readonly Listener[] = [gateInvalidation];

/**
 * The Emit of this Worker: domain events go to LISTENERS. A request's names the request and its
 * caller (src/http/control-plane.ts); without one, the changes are a system job's.
 */
export const domainEvents = (env: Env, origin: () => ChangeOrigin = () => systemOrigin("system")): Emit =>
  emitter(env, LISTENERS, origin);

export const systemOrigin = (job: string): ChangeOrigin => ({ requestId: null, actor: systemActor(job) });
