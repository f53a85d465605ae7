import { readFileSync } from "node:fs";
import pg from "pg";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { applyPgMigrations } from "../src/db/pg-migrations";

const dir = new URL("../migrations/shard-pg/", import.meta.url);

/**
 * Migrates the PostgreSQL shard once per test run, from Node, before any test file starts. It is
 * one database shared by every file and run (tests keep apart by fresh tenant ids), so once is enough.
 */
export default async function setup() {
  const { workerOptions } = unstable_getMiniflareWorkerOptions("./wrangler.toml");
  const connectionString = (workerOptions.hyperdrives as Record<string, string>).SHARD_PG_0;
  const journal = JSON.parse(readFileSync(new URL("meta/_journal.json", dir), "utf8")) as {
    entries: { tag: string }[];
  };
  const migrations = journal.entries.map(({ tag }) => ({
    name: tag,
    sql: readFileSync(new URL(`${tag}.sql`, dir), "utf8"),
  }));
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    await applyPgMigrations(client, migrations);
  } finally {
    await client.end();
  }
}
