import type { Principal } from "./principal";

/** Who made a change or a request, as events and audit records name them. */
export type Actor = {
  type: "api_key" | "user" | "platform_admin" | "system" | "download_link";
  /**
   * The key's id (api_key, platform_admin), the user's (user), the job's name (system); null for
   * whoever holds a signed download link (download_link).
   */
  id: string | null;
  /** The presented key's public prefix; never its secret. */
  key_prefix: string | null;
};

/** The actor of an authenticated request: a tenant key acts for its user when it has one. */
export function actorOf(principal: Principal): Actor {
  if (principal.kind === "platform_admin") {
    return { type: "platform_admin", id: principal.keyId, key_prefix: principal.keyPrefix };
  }
  if (principal.userId !== null) return { type: "user", id: principal.userId, key_prefix: principal.keyPrefix };
  return { type: "api_key", id: principal.keyId, key_prefix: principal.keyPrefix };
}

/** The platform itself: a cron or queue job. */
export const systemActor = (job: string): Actor => ({ type: "system", id: job, key_prefix: null });

/** Whoever holds a signed download link: a bearer of the link, not a key. */
export const linkActor: Actor = { type: "download_link", id: null, key_prefix: null };
