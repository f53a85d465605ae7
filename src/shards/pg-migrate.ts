import type pg from "pg";
import { PG_SHARD_MIGRATIONS } from "../../migrations/shard-pg";
import { applyPgMigrations as apply } from "../db/pg-migrations";
import type { ShardMigration } from "../db/sql";
import { connectPg } from "./pg-store";

/**
 * Applies the migrations a PostgreSQL shard has not seen yet, in order, each in its own
 * transaction with its ledger row, and returns the names it applied. Safe to run at every
 * provisioning and deploy, also concurrently (src/db/pg-migrations.ts).
 */
export async function migratePgShard(connectionString: string): Promise<string[]> {
  const client = await connectPg(connectionString);
  try {
    return await applyPgMigrations(client);
  } finally {
    await client.end();
  }
}

/** Applies the bundled shard migrations (or the ones given) through an open client. */
export const applyPgMigrations = (
  client: pg.ClientBase,
  migrations: readonly ShardMigration[] = PG_SHARD_MIGRATIONS,
  now = Date.now,
) => apply(client, migrations, now);
