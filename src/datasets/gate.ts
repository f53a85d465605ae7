import { gateOf } from "../gate/client";
import { gateState } from "../gate/dataset";
import type { GateState } from "../gate/protocol";
import { RowChecksum } from "./canonical";

// The tenant's gate dataset (src/gate/dataset.ts), through the gate's own RPC methods
// (durable-objects/tenant-gate.ts): its storage tables' rows as they stand.

/** Every row of the tenant's gate's storage tables, its pending admissions written first. */
export const exportGate = (env: Env, tenantId: string): Promise<GateState> =>
  gateOf(env, tenantId).exportState() as Promise<GateState>;

/** Replaces what the tenant's gate stores with `state` (all at once) and reloads the gate from it. */
export const importGate = (env: Env, tenantId: string, state: GateState): Promise<void> =>
  gateOf(env, tenantId).importState(state);

/** Deletes everything the tenant's gate stores; it behaves as a gate that never served the tenant. */
export const purgeGate = (env: Env, tenantId: string): Promise<void> => gateOf(env, tenantId).purgeState();

export type GateSummary = { rows: Record<string, number>; checksum: string };

/**
 * Rows per table, and a RowChecksum over `[table, row]` for each table in declared order and each
 * of its rows in order.
 */
export function summarizeGate(state: GateState): GateSummary {
  const checksum = new RowChecksum();
  const rows: Record<string, number> = {};
  for (const table of gateState.storage) {
    const tableRows = state[table] ?? [];
    for (const row of tableRows) checksum.add([table, row]);
    rows[table] = tableRows.length;
  }
  return { rows, checksum: checksum.digest() };
}

/** The summary of what the tenant's gate stores now. */
export const gateSummary = async (env: Env, tenantId: string): Promise<GateSummary> =>
  summarizeGate(await exportGate(env, tenantId));
