import { D1_SHARD_MIGRATIONS } from "../../migrations/shard";
import { MigrationFailed, migrationStatements, type ShardMigration } from "../db/sql";

/**
 * wrangler's own ledger, so `wrangler d1 migrations apply` and the Worker agree on what a shard
 * has: same table, same row per migration (the file name).
 */
const LEDGER = `CREATE TABLE IF NOT EXISTS d1_migrations(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT UNIQUE,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`;

const ledgerName = (migration: ShardMigration) => `${migration.name}.sql`;

/**
 * Applies the migrations a D1 shard has not seen yet, in order, and returns the names it applied.
 * Each is one batch (one transaction) that begins with its ledger row: a concurrent runner that
 * got there first makes that insert fail before anything else runs, and is then found in the
 * ledger; any other failure leaves no trace of the migration and is thrown as MigrationFailed.
 */
export async function migrateD1Shard(
  db: D1Database,
  migrations: readonly ShardMigration[] = D1_SHARD_MIGRATIONS,
): Promise<string[]> {
  await db.prepare(LEDGER).run();
  const { results } = await db.prepare("SELECT name FROM d1_migrations").all<{ name: string }>();
  const seen = new Set(results.map((row) => row.name));
  const applied: string[] = [];
  for (const migration of migrations) {
    const name = ledgerName(migration);
    if (seen.has(name)) continue;
    try {
      await db.batch([
        db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(name),
        ...migrationStatements(migration.sql).map((statement) => db.prepare(statement)),
      ]);
      applied.push(migration.name);
    } catch (error) {
      const recorded = await db.prepare("SELECT 1 FROM d1_migrations WHERE name = ?").bind(name).first();
      if (!recorded) throw new MigrationFailed(migration.name, error);
    }
  }
  return applied;
}
