import { errorText } from "../db/errors";
import type { ChangeOrigin } from "./event";

/**
 * What changed in the control plane, as the domain functions that change it announce it. Each
 * `type` is also the audit action of the change.
 */
export type DomainEvent =
  | {
      type:
        | "tenant.created"
        | "tenant.updated"
        | "tenant.provisioned"
        | "tenant.deleted"
        | "tenant.restored"
        | "tenant.archived";
      tenantId: string;
    }
  /** `tenantId` null: a platform-admin key. */
  | { type: "key.created" | "key.revoked"; tenantId: string | null; keyId: string }
  | { type: "user.created" | "user.updated" | "user.deleted"; tenantId: string; userId: string };

export type DomainEventType = DomainEvent["type"];

/**
 * Announces a change once it has committed; resolves when every listener has run. `origin` says who
 * makes the changes it announces, which their outbox events record (src/events/outbox.ts).
 */
export type Emit = ((event: DomainEvent) => Promise<void>) & { readonly origin: ChangeOrigin };

/** Reacts to some events; a listener's failure is its own (logged), never the change's. */
export type Listener = {
  name: string;
  types: ReadonlySet<DomainEventType>;
  handle: (env: Env, event: DomainEvent) => Promise<void>;
};

/** An Emit that hands each event to the listeners that want it, in-process, and waits for them. */
export function emitter(env: Env, listeners: readonly Listener[], origin: () => ChangeOrigin): Emit {
  const emit = async (event: DomainEvent) => {
    await Promise.all(
      listeners
        .filter((listener) => listener.types.has(event.type))
        .map(async (listener) => {
          try {
            await listener.handle(env, event);
          } catch (error) {
            console.warn(
              JSON.stringify({
                level: "warn",
                msg: "event listener failed",
                listener: listener.name,
                event: event.type,
                error: errorText(error),
              }),
            );
          }
        }),
    );
  };
  return Object.defineProperty(emit, "origin", { get: origin }) as Emit;
}
