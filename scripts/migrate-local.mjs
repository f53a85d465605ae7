// Applies every D1 migration (control and shards) to the local state under .wrangler/.
import { d1Bindings, wrangler } from "./lib/wrangler.mjs";

export function migrateLocal() {
  for (const binding of d1Bindings()) {
    wrangler(["d1", "migrations", "apply", binding, "--local"], { quiet: true });
    console.log(`Migrated ${binding} (local)`);
  }
}

if (import.meta.url === `file://${process.argv[1]}`) migrateLocal();
