import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { D1_SHARD_MIGRATIONS } from "../../migrations/shard";
import { migrateD1Shard } from "../../src/shards/d1-migrate";

// SHARD_D1_FRESH is a D1 database no migration has touched (vitest.config.ts); SHARD_D1_0 was
// migrated by test/setup.ts with `applyD1Migrations`, which keeps wrangler's ledger.
const fresh = env.SHARD_D1_FRESH;

/** The schema a database holds, without the ledger and SQLite's own bookkeeping. */
async function schemaOf(db: D1Database) {
  const { results } = await db
    .prepare(
      "SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations' ORDER BY type, name",
    )
    .all();
  return results;
}

const ledger = async (db: D1Database) =>
  (await db.prepare("SELECT name FROM d1_migrations ORDER BY id").all<{ name: string }>()).results.map((r) => r.name);

const tableExists = async (db: D1Database, name: string) =>
  (await db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").bind(name).first()) !== null;

describe("migrateD1Shard", () => {
  it("builds on a fresh database exactly the schema `wrangler d1 migrations apply` builds, and records it in wrangler's ledger", async () => {
    expect(await migrateD1Shard(fresh)).toEqual(D1_SHARD_MIGRATIONS.map((m) => m.name));
    expect(await schemaOf(fresh)).toEqual(await schemaOf(env.SHARD_D1_0));
    expect((await schemaOf(fresh)).filter((o) => o.type === "trigger")).toHaveLength(8);
    expect(await ledger(fresh)).toEqual(env.SHARD_MIGRATIONS.map((m) => m.name));
    expect(await migrateD1Shard(fresh)).toEqual([]);
  });

  it("applies nothing to a shard wrangler migrated, and wrangler's runner applies nothing after it", async () => {
    expect(await migrateD1Shard(env.SHARD_D1_0)).toEqual([]);
    await applyD1Migrations(fresh, env.SHARD_MIGRATIONS); // would throw on a second CREATE TABLE
    expect(await ledger(fresh)).toEqual(env.SHARD_MIGRATIONS.map((m) => m.name));
  });

  it("applies each migration exactly once among concurrent runners", async () => {
    const migrations = [1, 2, 3].map((n) => ({ name: `910${n}_race`, sql: `CREATE TABLE race_${n} (n integer)` }));
    const runs = await Promise.all([1, 2, 3].map(() => migrateD1Shard(fresh, migrations)));
    expect(runs.flat().sort()).toEqual(migrations.map((m) => m.name));
    expect((await ledger(fresh)).filter((name) => name.includes("_race"))).toEqual(
      migrations.map((m) => `${m.name}.sql`),
    );
  });

  it("rolls a failing migration back whole, ledger row included, and stops there", async () => {
    const migrations = [
      { name: "9200_ok", sql: "CREATE TABLE ok_before (n integer)" },
      {
        name: "9201_half",
        sql: "CREATE TABLE half (n integer);\n--> statement-breakpoint\nINSERT INTO nowhere VALUES (1);",
      },
      { name: "9202_after", sql: "CREATE TABLE after_half (n integer)" },
    ];
    await expect(migrateD1Shard(fresh, migrations)).rejects.toThrow(/^9201_half: .*no such table: nowhere/);
    expect(await tableExists(fresh, "ok_before")).toBe(true);
    expect(await tableExists(fresh, "half")).toBe(false);
    expect(await tableExists(fresh, "after_half")).toBe(false);
    expect((await ledger(fresh)).filter((name) => name.startsWith("92"))).toEqual(["9200_ok.sql"]);
  });
});
