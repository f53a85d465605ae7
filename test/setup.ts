import { applyD1Migrations } from "cloudflare:test";
import { env } from "cloudflare:workers";

// The same SQL files `wrangler d1 migrations apply` runs; storage is isolated per test file.
await applyD1Migrations(env.CONTROL_DB, env.CONTROL_MIGRATIONS);
await Promise.all(
  [env.SHARD_D1_0, env.SHARD_D1_1, env.SHARD_D1_2, env.SHARD_D1_DEDICATED_0].map((db) =>
    applyD1Migrations(db, env.SHARD_MIGRATIONS),
  ),
);
// The PostgreSQL shard is migrated once per run, by test/global-setup.ts.
