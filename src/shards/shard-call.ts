import type { Context } from "hono";
import type { AppEnv } from "../env";
import { gateOf } from "../gate/client";
import type { Outcome, PermitResult, ShardTiming, WriteResult } from "../gate/protocol";
import { AppError, controlPlaneUnavailable } from "../http/problems";
import { routeCache } from "../routing/cache";

// One request's use of its tenant's shard as the tenant's gate sees it: admitted past a move's
// fence (a platform admin's write), let through the circuit, and its outcome reported back.

const circuitOpen = (retryAfterMs: number) => {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError("circuit-open", "Calls to the tenant's shard are failing; they resume after the pause", {
    headers: { "Retry-After": String(seconds) },
    extensions: { dependency: "shard", retry_after: seconds },
  });
};

/**
 * Asks the tenant's circuit whether the shard may be called. A tenant key's admission already
 * carries the circuit's state, so only a half-open circuit (handing out probes) costs a call;
 * platform-admin requests, which skip the gate, always ask.
 */
async function permitShard(c: Context<AppEnv>, tenantId: string): Promise<PermitResult> {
  const known = c.var.gate?.circuits.shard;
  if (c.var.gate && !known) return { permitted: true, probe: null };
  if (known?.state === "open") return { permitted: false, retryAfterMs: known.retryAfterMs };
  return gateOf(c.env, tenantId).permit("shard");
}

/**
 * A platform admin's write passes the tenant's gate here (a tenant key's did in `admit`), so a
 * move's fence holds it back too; its lease goes back with the outcome.
 */
async function admitAdminWrite(c: Context<AppEnv>, tenantId: string, shardId: string): Promise<string> {
  let result: WriteResult;
  try {
    result = (await gateOf(c.env, tenantId).admitWrite(tenantId, shardId)) as WriteResult;
  } catch (cause) {
    throw controlPlaneUnavailable("The tenant's gate did not answer", cause);
  }
  if (result.admitted) return result.leaseId;
  // The route this isolate holds may name the shard the tenant just left.
  routeCache(c.env).delete(tenantId);
  const seconds = result.retryAfterSeconds ?? 1;
  throw new AppError(result.problem, result.detail, {
    headers: { "Retry-After": String(seconds) },
    extensions: { retry_after: seconds },
  });
}

function report(c: Context<AppEnv>, tenantId: string, adminLease: string | null, outcomes: Outcome[]) {
  const gate = c.var.gate;
  // A tenant key's outcome rides on its release; an admin's goes on its own.
  if (gate) gate.outcomes.push(...outcomes);
  else {
    const stub = gateOf(c.env, tenantId);
    c.executionCtx.waitUntil(
      (adminLease ? stub.releaseWrite(adminLease, outcomes) : stub.record(outcomes)).catch(() => undefined),
    );
  }
}

/**
 * A shard call under way: `end` reports it once (failed, succeeded, or never made: null), with the
 * store calls it made, timed.
 */
export type ShardCall = { end(failed: boolean | null, calls?: ShardTiming[]): void };

/**
 * Starts the request's call to the tenant's shard, or refuses it: a write the gate holds back
 * (a move's fence), an open circuit (503 circuit-open). A refusal reports what it held.
 */
export async function startShardCall(
  c: Context<AppEnv>,
  tenantId: string,
  shardId: string,
  write: boolean,
): Promise<ShardCall> {
  const adminLease = write && !c.var.gate ? await admitAdminWrite(c, tenantId, shardId) : null;
  let permit: PermitResult;
  try {
    permit = await permitShard(c, tenantId);
  } catch (error) {
    report(c, tenantId, adminLease, []);
    throw error;
  }
  if (!permit.permitted) {
    report(c, tenantId, adminLease, []);
    throw circuitOpen(permit.retryAfterMs);
  }
  return {
    end: (failed, calls = []) =>
      report(c, tenantId, adminLease, [{ dependency: "shard", failed, probe: permit.probe, shardId, calls }]),
  };
}
