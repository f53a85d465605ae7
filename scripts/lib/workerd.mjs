// Serves the Worker straight from workerd through Miniflare, without `wrangler dev`'s proxy (which
// adds a Node hop and live reload to every request and would dominate what the bench measures).
// The bench and the browser test of /docs use it.
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig } from "wrangler";
import { newId } from "../../src/http/ids.ts";
import { SCOPES } from "../../src/keys/scopes.ts";
import { generateKey } from "../../src/keys/secret.ts";
import { wrangler } from "./wrangler.mjs";

const root = new URL("../..", import.meta.url).pathname;
const OUT_DIR = join(root, ".wrangler/bench/dist");
const CONFIG = join(root, "wrangler.toml");

/** Applies the control database's migrations as `wrangler d1 migrations apply` does: files in order, statement by statement. */
async function migrate(db, dir) {
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith(".sql"))
    .sort()) {
    const statements = readFileSync(join(dir, file), "utf8")
      .split("--> statement-breakpoint")
      .map((chunk) => chunk.trim())
      .filter((chunk) => chunk.replace(/^--.*$/gm, "").trim().length > 0);
    for (const statement of statements) await db.prepare(statement).run();
  }
}

/**
 * Bundles the Worker as `wrangler deploy` would, starts it in workerd with the bindings of
 * wrangler.toml (in-memory storage: every bench starts from empty databases), applies the control
 * database's migrations, mints a platform-admin key and runs the deploy step that migrates every
 * shard (`POST /v1/shards/migrate`). Returns `{ baseUrl, adminKey, d1, stop }`. With `persistTo`,
 * storage lives on disk there instead (the export bench: the archive's bytes are not the Worker's).
 * With `s3Credentials` ({accessKeyId, secretAccessKey}), the archives bucket also answers the S3
 * API at /cdn-cgi/local/r2/s3 under those credentials (the presigned export links' test).
 */
export async function startWorkerd({
  port = 8797,
  outDir = OUT_DIR,
  bindings = {},
  persistTo,
  inspectorPort,
  s3Credentials,
} = {}) {
  rmSync(outDir, { recursive: true, force: true });
  wrangler(["deploy", "--dry-run", "--outdir", outDir], { quiet: true });

  const config = unstable_readConfig({ config: CONFIG });
  const { workerOptions } = unstable_getMiniflareWorkerOptions(CONFIG);
  // wrangler hands out options in Miniflare's v4 shape; this Miniflare takes its own.
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      host: "127.0.0.1",
      port,
      // Storage on disk under this folder instead of in memory (databases, buckets, objects).
      ...(persistTo ? { resourcePersistencePath: persistTo } : {}),
      // The V8 inspector of the Worker's isolate (the export bench reads its heap through it).
      ...(inspectorPort ? { inspectorPort } : {}),
      workers: [
        {
          name: config.name,
          // The bundle: index.js plus the text modules wrangler emitted beside it (the SQL of the
          // shard migrations, the /docs page's Swagger UI).
          modulesRoot: outDir,
          modules: readdirSync(outDir)
            .filter((name) => name !== "README.md" && !name.endsWith(".map"))
            .sort((a) => (a === "index.js" ? -1 : 1))
            .map((name) => ({ type: name === "index.js" ? "ESModule" : "Text", path: join(outDir, name) })),
          compatibilityDate: workerOptions.compatibilityDate,
          compatibilityFlags: workerOptions.compatibilityFlags,
          // The Worker secrets no .dev.vars provides here.
          bindings: {
            PLATFORM_SECRET: randomBytes(32).toString("base64url"),
            AUDIT_CHECKPOINT_KEY: randomBytes(32).toString("base64url"),
            ...workerOptions.bindings,
            ...bindings,
          },
          d1Databases: workerOptions.d1Databases,
          queueProducers: workerOptions.queueProducers,
          queueConsumers: workerOptions.queueConsumers,
          durableObjects: workerOptions.durableObjects,
          hyperdrives: workerOptions.hyperdrives,
          r2Buckets: s3Credentials
            ? Object.fromEntries(
                Object.entries(workerOptions.r2Buckets).map(([name, bucket]) => [name, { ...bucket, s3Credentials }]),
              )
            : workerOptions.r2Buckets,
        },
      ],
    }),
  );
  const url = await mf.ready;

  const control = await mf.getD1Database("CONTROL_DB");
  const controlDb = config.d1_databases.find((database) => database.binding === "CONTROL_DB");
  await migrate(control, join(root, controlDb.migrations_dir));
  const key = await generateKey();
  await control
    .prepare(
      "INSERT INTO api_keys (id, tenant_id, user_id, name, prefix, secret_hash, scopes, created_at) VALUES (?, NULL, NULL, 'bench', ?, ?, ?, ?)",
    )
    .bind(newId("key"), key.prefix, key.secretHash, JSON.stringify(SCOPES), Date.now())
    .run();
  const migrated = await fetch(new URL("/v1/shards/migrate", url), {
    method: "POST",
    headers: { Authorization: `Bearer ${key.key}` },
  });
  if (!migrated.ok) throw new Error(`shard migrations failed: ${migrated.status} ${await migrated.text()}`);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await mf.dispose();
  };
  // Direct access to a D1 binding, for seeding what the API would take too long to create.
  const d1 = (binding) => mf.getD1Database(binding);
  return { baseUrl: url.origin, adminKey: key.key, d1, stop };
}
