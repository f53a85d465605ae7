import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/**
 * The state of each tenant's circuits as their gates last reported it: written when a circuit
 * opens or closes (the gate holds the live state), so the platform's health can count open ones
 * without asking every gate. A report older than the row (reports race) is ignored.
 */
export const circuitStates = sqliteTable(
  "circuit_states",
  {
    tenantId: text("tenant_id").notNull(),
    dependency: text("dependency").notNull(),
    /** "open" or "closed" (an open circuit turns half-open by itself after its cool-down). */
    state: text("state").$type<"open" | "closed">().notNull(),
    changedAt: integer("changed_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenantId, t.dependency] }), index("circuit_states_state_idx").on(t.state)],
);
