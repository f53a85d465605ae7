import { LRUCache } from "lru-cache";
import { chainTrail } from "../audit/chainer";
import { checkpointKey } from "../audit/checkpoints";
import { platformTrail } from "../audit/platform";
import type { ControlDb } from "../db/client";
import { errorText } from "../db/errors";
import { relayTenant } from "./relay";

/**
 * Passes for one tenant start at least this far apart in an isolate: the first write of a quiet
 * tenant is relayed at once, a stream of writes shares a pass a second instead of each paying for
 * its own (the relay's reads, the gate's admission, a queue send), which would otherwise run beside
 * the tenant's next requests.
 */
const PASS_INTERVAL_MS = 1000;
const lastPass = new LRUCache<string, number>({ max: 10_000 });

/** Trails this isolate is relaying now, and those written to again meanwhile. */
const running = new Set<string>();
const again = new Set<string>();

/**
 * Relays the tenant's new events and records right after a write (the platform's trail for null).
 * A relay already running (or waiting for its turn) in this isolate for the tenant takes the new
 * work in one more pass instead of a second relay starting; the minute's sweep covers a nudge that
 * fails or is lost.
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
      const wait = (lastPass.get(name) ?? 0) + PASS_INTERVAL_MS - Date.now();
      if (wait > 0) await scheduler.wait(wait);
      lastPass.set(name, Date.now());
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
      JSON.stringify({ level: "warn", msg: "relay nudge failed", tenant_id: tenantId, error: errorText(error) }),
    );
  }
}
