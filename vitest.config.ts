import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

const dir = (path: string) => fileURLToPath(new URL(path, import.meta.url));

/** `import x from "./m.sql"` gives the file's text, as wrangler's default Text rule does in the Worker. */
const sqlAsText = {
  name: "sql-as-text",
  transform: (code: string, id: string) =>
    id.endsWith(".sql") ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined,
};

/**
 * The queue consumers of wrangler.toml, delivering each batch at once: a consumer otherwise waits
 * out `max_batch_timeout` for a fuller batch, and every step of a tenant move is one message.
 */
function immediateConsumers() {
  const { workerOptions } = unstable_getMiniflareWorkerOptions("./wrangler.toml");
  const consumers = (workerOptions.queueConsumers ?? {}) as Record<string, object>;
  return Object.fromEntries(
    Object.entries(consumers).map(([queue, options]) => [queue, { ...options, maxBatchTimeout: 0 }]),
  );
}

export default defineConfig({
  // pg picks its socket with require("pg-cloudflare"), whose workerd build is behind the "workerd"
  // export condition; without it the test pool resolves an empty stub.
  ssr: { resolve: { conditions: ["workerd", "worker", "module", "browser"] } },
  test: {
    // Files of one project run two at a time (one per core): much of a move test is waiting.
    maxWorkers: 2,
    projects: [
      {
        // Everything that touches the Worker runs inside workerd against real local bindings.
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // A PostgreSQL that refuses connections, for tests of a shard whose database fails.
              hyperdrives: { SHARD_PG_DOWN: "postgres://postgres:down@127.0.0.1:1/none" },
              // A D1 database no migration has touched, for tests of a shard the Worker migrates.
              d1Databases: { SHARD_D1_FRESH: "shard-d1-fresh" },
              queueConsumers: immediateConsumers(),
              bindings: {
                CONTROL_MIGRATIONS: await readD1Migrations(dir("./migrations/control")),
                SHARD_MIGRATIONS: await readD1Migrations(dir("./migrations/shard")),
                // Small batches so a test's few hundred entries take several copy steps, and a
                // short wait before a moved tenant's old rows are deleted.
                MOVE_BATCH_SIZE: "50",
                MOVE_CLEANUP_DELAY_SECONDS: "1",
                // A failed move step is retried at once, not after a backoff of 1, 2, 4, 8 s.
                MOVE_RETRY_DELAY_SECONDS: "0",
                ARCHIVE_RETRY_DELAY_SECONDS: "0",
                // A job that throws is retried at once, so one that always fails reaches the
                // dead-letter queue within the test.
                JOB_RETRY_DELAY_SECONDS: "0",
                // The Worker secret that .dev.vars holds for `npm start`.
                PLATFORM_SECRET: "test-platform-secret-0123456789abcdef",
                AUDIT_CHECKPOINT_KEY: "test-audit-checkpoint-key-0123456789",
                // Webhook tests deliver through the real queues to a loopback port nothing listens
                // on (refused at once), not to a name this machine's resolver may take 5 s to refuse.
                // The deployed value is empty (test/webhooks/config.node.test.ts).
                WEBHOOK_ALLOW_HOSTS: "127.0.0.1:9",
                // The scraper's bearer token for GET /metrics.
                METRICS_TOKEN: "test-metrics-token-0123456789abcdef",
              },
            },
          })),
        ],
        test: {
          name: "workerd",
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.node.test.ts"],
          setupFiles: ["./test/setup.ts"],
          globalSetup: ["./test/global-setup.ts"],
          testTimeout: 20_000,
        },
      },
      {
        // Checks whose tools need Node (e.g. the OpenAPI 3.1 validator compiles schemas with eval;
        // the /docs test drives Chromium).
        plugins: [sqlAsText],
        test: { name: "node", include: ["test/**/*.node.test.ts"], environment: "node" },
      },
    ],
  },
});
