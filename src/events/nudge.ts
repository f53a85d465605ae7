import { chainTrail } from "../audit/chainer";
import { checkpointKey } from "../audit/checkpoints";
import { platformTrail } from "../audit/platform";
import type { ControlDb } from "../db/client";
import { relayTenant } from "./relay";

/**
 * A nudge waits this long before its pass, so a burst of writes of one tenant shares one pass
 * instead of each paying for its own (the relay's reads, the gate's admission, a queue send).
 */
const GATHER_MS = 50;

/** Trails this isolate is relaying now, and those written to again meanwhile. */
const running = new Set<string>();
const again = new Set<string>();

/**
 * Relays the tenant's new events and records right after a write (the platform's trail for null).
 * A relay already running (or gathering) in this isolate for the tenant takes the new work in one
 * more pass instead of a second relay starting; the minute's sweep covers a nudge that fails or is lost.
 */
export async function nudgeRelay(env: Env, db: ControlDb, tenantId: string | null): Promise<void> {
  const name = tenantId ?? "";
  if (running.has(name)) {
    again.add(name);
    return;
  }
  running.add(name);
  try {
    for (;;) {
      await scheduler.wait(GATHER_MS);
      again.delete(name);
      if (tenantId === null) await chainTrail(platformTrail(db), null, checkpointKey(env));
      else await relayTenant(env, db, tenantId);
      // Checked and cleared in one step, so a write between the two cannot be missed.
      if (!again.has(name)) {
        running.delete(name);
        return;
      }
    }
  } catch (error) {
    running.delete(name);
    console.warn(
      JSON.stringify({ level: "warn", msg: "relay nudge failed", tenant_id: tenantId, error: String(error) }),
    );
  }
}
