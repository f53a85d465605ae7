import type { Release } from "./protocol";

/**
 * How long a finished request's release may wait for the tenant's next admit from this isolate
 * before it is sent on its own. Under load the next admit comes much sooner and carries it, which
 * saves the gate a call per request; when the tenant goes quiet the slot is back this soon anyway.
 */
export const RELEASE_DELAY_MS = 20;

type Pending = { releases: Release[]; timerArmed: boolean };

/** Releases not yet sent, per tenant, in this isolate. */
const pending = new Map<string, Pending>();

/** Takes every pending release of the tenant, to send with its next admit. */
export function takeReleases(tenantId: string): Release[] {
  const entry = pending.get(tenantId);
  if (!entry || entry.releases.length === 0) return [];
  const { releases } = entry;
  entry.releases = [];
  return releases;
}

/**
 * Puts back releases whose admit failed; they ride on the next admit or expire with their lease.
 * Returning a slot twice is harmless; should the failed admit have applied them, their outcomes
 * count twice in the circuit's 100-call window, which beats losing them.
 */
export function restoreReleases(tenantId: string, releases: Release[]) {
  if (releases.length === 0) return;
  const entry = pending.get(tenantId);
  if (entry) entry.releases.unshift(...releases);
  else pending.set(tenantId, { releases: [...releases], timerArmed: false });
}

/**
 * Queues the release for the tenant's next admit. If no timer is armed for the tenant, this
 * request arms one: after `delayMs` it sends whatever no admit has taken meanwhile, in one call.
 * So no release waits longer than `delayMs`, and a busy tenant costs one timer per `delayMs`, not
 * one per request. The timer and the call belong to the request that armed them (run them in its
 * waitUntil): workerd forbids using one request's I/O objects from another; releases are data.
 */
export async function deferRelease(
  tenantId: string,
  release: Release,
  send: (releases: Release[]) => Promise<void>,
  delayMs = RELEASE_DELAY_MS,
): Promise<void> {
  let entry = pending.get(tenantId);
  if (!entry) {
    entry = { releases: [], timerArmed: false };
    pending.set(tenantId, entry);
  }
  entry.releases.push(release);
  if (entry.timerArmed) return;
  entry.timerArmed = true;
  try {
    await scheduler.wait(delayMs);
  } finally {
    entry.timerArmed = false;
  }
  const due = takeReleases(tenantId);
  if (pending.get(tenantId) === entry && entry.releases.length === 0) pending.delete(tenantId);
  if (due.length > 0) await send(due);
}
