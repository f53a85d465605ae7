import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

export const WRANGLER = new URL("../../node_modules/.bin/wrangler", import.meta.url).pathname;
/** The environment every wrangler call gets: no telemetry from dev and CI runs. */
export const WRANGLER_ENV = { ...process.env, WRANGLER_SEND_METRICS: "false" };

/** Runs wrangler with no stdin (so it never waits on a prompt) and returns stdout; throws on failure. */
export function wrangler(args, { quiet = false } = {}) {
  const result = spawnSync(WRANGLER, args, {
    stdio: ["ignore", "pipe", quiet ? "pipe" : "inherit"],
    encoding: "utf8",
    env: WRANGLER_ENV,
  });
  if (result.status !== 0) {
    throw new Error(`wrangler ${args.join(" ")} failed:\n${result.stdout}\n${result.stderr ?? ""}`);
  }
  return result.stdout;
}

/** The D1 bindings declared in wrangler.toml, in order (control first). */
export function d1Bindings() {
  const toml = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
  return [...toml.matchAll(/^\s*binding\s*=\s*"([A-Z0-9_]+)"/gm)]
    .map((m) => m[1])
    .filter((name) => name === "CONTROL_DB" || name.startsWith("SHARD_D1_"));
}

/** Runs one SQL statement on a D1 database and returns the result rows. */
export function d1Query(binding, sql, target) {
  const out = wrangler(["d1", "execute", binding, target, "--json", "--command", sql], { quiet: true });
  return JSON.parse(out.slice(out.indexOf("[")))[0]?.results ?? [];
}
