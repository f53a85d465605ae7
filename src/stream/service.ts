import { Buffer } from "node:buffer";
import { and, eq, gt, isNull, lt, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { newId } from "../http/ids";
import { sha256Hex } from "../keys/secret";
import { plans } from "../plans/table";
import type { HubStats } from "./protocol";
import { streamCounters, streamTickets } from "./table";

/** A ticket opens one connection, within this long of being issued. */
export const TICKET_MS = 60_000;
/** Connections of a tenant whose tier has no plan row. */
const UNKNOWN_TIER_CONNECTIONS = 2;

export type IssuedTicket = { ticket: string; expiresAt: number };

/** A new ticket of the tenant, for the key that asked; its secret is shown once, its hash kept. */
export async function issueTicket(
  db: ControlDb,
  tenantId: string,
  keyId: string,
  types: string[] | null,
  now = Date.now(),
): Promise<IssuedTicket> {
  const ticket = `stk_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64url")}`;
  const expiresAt = now + TICKET_MS;
  await db.insert(streamTickets).values({
    id: newId("stk"),
    secretHash: sha256Hex(ticket),
    tenantId,
    keyId,
    types,
    expiresAt,
    createdAt: now,
  });
  return { ticket, expiresAt };
}

/**
 * Spends the ticket for a connection to the tenant's stream, in one conditional write: the
 * tenant's, unspent, unexpired. Returns it, or null (unknown, another tenant's, spent or expired
 * look the same).
 */
export async function redeemTicket(db: ControlDb, tenantId: string, ticket: string, now = Date.now()) {
  const [spent] = await db
    .update(streamTickets)
    .set({ usedAt: now })
    .where(
      and(
        eq(streamTickets.secretHash, sha256Hex(ticket)),
        eq(streamTickets.tenantId, tenantId),
        isNull(streamTickets.usedAt),
        gt(streamTickets.expiresAt, now),
      ),
    )
    .returning();
  return spent ?? null;
}

/** The stream connections the tier's plan allows at once. */
export async function connectionLimit(db: ControlDb, tier: string): Promise<number> {
  const plan = await db.query.plans.findFirst({ where: eq(plans.tier, tier), columns: { streamConnections: true } });
  return plan?.streamConnections ?? UNKNOWN_TIER_CONNECTIONS;
}

/** Tickets spent or expired for more than a day go (the hourly housekeeping). */
export async function dropOldTickets(db: ControlDb, now = Date.now()): Promise<number> {
  const dropped = await db
    .delete(streamTickets)
    .where(lt(streamTickets.expiresAt, now - 86_400_000))
    .returning({ id: streamTickets.id });
  return dropped.length;
}

/** Stores a hub's counters, unless a later report is there already (reports may race). */
export async function reportCounters(
  db: ControlDb,
  tenantId: string,
  stats: HubStats & { active: number },
  at: number,
) {
  const row = { tenantId, ...stats, reportedAt: at };
  await db
    .insert(streamCounters)
    .values(row)
    .onConflictDoUpdate({ target: streamCounters.tenantId, set: row, setWhere: lt(streamCounters.reportedAt, at) });
}

/** Every tenant's counters added up, for /metrics. */
export async function platformCounters(db: ControlDb) {
  const [row] = await db
    .select({
      active: sql<number>`coalesce(sum(${streamCounters.active}), 0)`,
      opened: sql<number>`coalesce(sum(${streamCounters.opened}), 0)`,
      refused: sql<number>`coalesce(sum(${streamCounters.refused}), 0)`,
      dropped: sql<number>`coalesce(sum(${streamCounters.dropped}), 0)`,
      resyncs: sql<number>`coalesce(sum(${streamCounters.resyncs}), 0)`,
      coalesced: sql<number>`coalesce(sum(${streamCounters.coalesced}), 0)`,
    })
    .from(streamCounters);
  return row ?? { active: 0, opened: 0, refused: 0, dropped: 0, resyncs: 0, coalesced: 0 };
}
