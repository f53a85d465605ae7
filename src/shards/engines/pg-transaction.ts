import type { RunAtomically } from "../../audit/engines/trail";
import type { PgShardDb } from "../../db/client";
import { lockUsage } from "../../entries/engines/pg";

/**
 * Runs statements one after another in one transaction that first takes the tenant's usage row,
 * as every write of a tenant does (src/entries/engines/pg.ts): writers of one tenant queue there,
 * which is what makes a seq taken inside a statement follow commit order.
 */
export const inPgTransaction =
  (db: PgShardDb): RunAtomically =>
  (tenantId, build) =>
    db.transaction(async (tx) => {
      if (tenantId !== null) await lockUsage(tx, tenantId);
      const results: unknown[] = [];
      for (const statement of build(tx)) results.push(await statement);
      return results;
    });
