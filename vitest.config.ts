import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

const dir = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  test: {
    projects: [
      {
        // Everything that touches the Worker runs inside workerd against real local bindings.
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                CONTROL_MIGRATIONS: await readD1Migrations(dir("./migrations/control")),
                SHARD_MIGRATIONS: await readD1Migrations(dir("./migrations/shard")),
              },
            },
          })),
        ],
        test: {
          name: "workerd",
          include: ["test/**/*.test.ts"],
          exclude: ["test/**/*.node.test.ts"],
          setupFiles: ["./test/setup.ts"],
          testTimeout: 20_000,
        },
      },
      {
        // Checks whose tools need Node (e.g. the OpenAPI 3.1 validator compiles schemas with eval).
        test: { name: "node", include: ["test/**/*.node.test.ts"], environment: "node" },
      },
    ],
  },
});
