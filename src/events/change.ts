import type { AuditContext } from "../audit/record";
import type { Actor } from "../auth/actor";

/**
 * The request a change is made for: its event names the request and the actor, and when `audit`
 * is given the change commits the request's audit record in its own transaction too (entry writes),
 * with the status the request answers with once the change is made.
 */
export type Change = {
  requestId: string | null;
  actor: Actor;
  /** When it happens (epoch ms); now unless given. */
  at?: number;
  audit?: { action: string; status: number; context: AuditContext };
  /** Set only where AUDIT_TRAIL is "off" (a benchmark's baseline): the write commits no event either. */
  untracked?: true;
};

/** A row a write appends to another table (its event, its audit record) in the same transaction. */
export type Appended = { table: any; row: Record<string, unknown> };
