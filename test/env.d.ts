import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      CONTROL_MIGRATIONS: D1Migration[];
      SHARD_MIGRATIONS: D1Migration[];
      SHARD_D1_FRESH: D1Database;
      SHARD_PG_DOWN: Hyperdrive;
      MOVE_CLEANUP_DELAY_SECONDS: string;
      METRICS_TOKEN: string;
    }
  }
}
