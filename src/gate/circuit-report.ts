import { sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { circuitStates } from "./circuit-table";
import type { Dependency } from "./protocol";

/** Records that a tenant's circuit opened or closed at `at`, unless a later report is already there. */
export async function reportCircuit(
  db: ControlDb,
  tenantId: string,
  dependency: Dependency,
  state: "open" | "closed",
  at: number,
) {
  await db
    .insert(circuitStates)
    .values({ tenantId, dependency, state, changedAt: at })
    .onConflictDoUpdate({
      target: [circuitStates.tenantId, circuitStates.dependency],
      set: { state, changedAt: at },
      setWhere: sql`excluded.changed_at >= ${circuitStates.changedAt}`,
    });
}
