import type pg from "pg";
import { MigrationFailed, migrationStatements, type ShardMigration } from "./sql";

const LEDGER = "CREATE TABLE IF NOT EXISTS shard_migrations (name text PRIMARY KEY, applied_at bigint NOT NULL)";

/**
 * Applies the migrations a PostgreSQL database has not seen yet, in order, each in its own
 * transaction with its ledger row, and returns the names it applied. Safe to run concurrently:
 * see `applyOnce`. It imports no SQL itself, so Node (the test run's global setup) can use it too.
 */
export async function applyPgMigrations(
  client: pg.ClientBase,
  migrations: readonly ShardMigration[],
  now = Date.now,
): Promise<string[]> {
  const applied: string[] = [];
  for (const migration of migrations) {
    if (await applyOnce(client, migration, now())) applied.push(migration.name);
  }
  return applied;
}

/**
 * A transaction-scoped advisory lock serializes concurrent runners (two isolates provisioning, a
 * deploy): the second waits, then finds the ledger row. Transaction-scoped because Hyperdrive
 * pools connections per transaction, so a session lock could outlive or miss its session.
 */
async function applyOnce(client: pg.ClientBase, migration: ShardMigration, now: number): Promise<boolean> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock(hashtext('shard_migrations'))");
    await client.query(LEDGER);
    const seen = await client.query("SELECT 1 FROM shard_migrations WHERE name = $1", [migration.name]);
    if (seen.rowCount === 0) {
      try {
        for (const statement of migrationStatements(migration.sql)) await client.query(statement);
      } catch (error) {
        throw new MigrationFailed(migration.name, error);
      }
      await client.query("INSERT INTO shard_migrations (name, applied_at) VALUES ($1, $2)", [migration.name, now]);
    }
    await client.query("COMMIT");
    return seen.rowCount === 0;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => undefined);
    throw error;
  }
}
