import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { controlDb } from "../../src/db/client";
import { sha256Hex } from "../../src/keys/secret";
import { issueTicket, reportCounters } from "../../src/stream/service";
import { streamTickets } from "../../src/stream/table";

/**
 * A stream ticket of the tenant's, as POST …/stream/tickets issues it, and its hub's counters as
 * the hub reports them; returns the ticket's row id.
 */
export async function storedStreamTicket(tenantId: string): Promise<string> {
  const db = controlDb(env);
  await reportCounters(
    db,
    tenantId,
    { active: 1, opened: 3, refused: 0, dropped: 2, resyncs: 1, coalesced: 7 },
    Date.now(),
  );
  const { ticket } = await issueTicket(db, tenantId, "key_01JD8X5Q3M2V7T6R4N9K0B1C2D", ["entry.*"]);
  const row = await db.query.streamTickets.findFirst({ where: eq(streamTickets.secretHash, sha256Hex(ticket)) });
  return row?.id as string;
}
