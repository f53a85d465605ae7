// Starts the platform as `npm start` does (scripts/start.mjs) on its own port and stops it again.
import { spawn } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { delimiter, dirname, join, relative } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const LOG_LIMIT = 64 * 1024;

/**
 * Spawns `node scripts/start.mjs` in its own process group, waits for `GET /` and the printed dev
 * admin key. Returns `{ baseUrl, adminKey, log, stop }`; the group is also killed on exit and SIGINT.
 */
export async function startPlatform({ port = 8797, timeoutMs = 120_000, wranglerArgs = [] } = {}) {
  const server = spawn(process.execPath, ["scripts/start.mjs", ...wranglerArgs], {
    cwd: root,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    // wrangler's shim runs `node` from PATH: make it this Node (22, as `npm run` provides), not an older one.
    env: { ...process.env, PORT: String(port), PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}` },
  });
  // Only the tail is kept: it is for error reports, and request logs could grow without bound.
  let log = "";
  const append = (chunk) => {
    log = (log + chunk).slice(-LOG_LIMIT);
  };
  server.stdout.on("data", append);
  server.stderr.on("data", append);

  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      process.kill(-server.pid, "SIGTERM");
    } catch {}
  };
  process.on("exit", stop);
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, () => {
      stop();
      process.exit(130);
    });
  }

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (true) {
    if (server.exitCode !== null) throw new Error(`scripts/start.mjs exited early (${server.exitCode}):\n${log}`);
    if (Date.now() > deadline) {
      stop();
      throw new Error(`platform did not answer on ${baseUrl} within ${timeoutMs / 1000} s:\n${log}`);
    }
    try {
      const res = await fetch(`${baseUrl}/`);
      await res.arrayBuffer();
      if (res.ok) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 500));
  }
  const adminKey = /^Dev admin key: (etk_\S+)$/m.exec(log)?.[1];
  if (!adminKey) {
    stop();
    throw new Error(`scripts/start.mjs printed no dev admin key:\n${log}`);
  }
  return { baseUrl, adminKey, log: () => log, stop };
}

const WATCHED = ["src", "durable-objects", "wrangler.toml"];

/** Modification times of the sources wrangler dev watches; it reloads the Worker when they change. */
export function sourceSnapshot() {
  const snapshot = new Map();
  for (const entry of WATCHED) {
    const path = join(root, entry);
    if (!existsSync(path)) continue;
    const files = statSync(path).isDirectory()
      ? readdirSync(path, { recursive: true }).map((name) => join(path, name))
      : [path];
    for (const file of files) {
      const stat = statSync(file, { throwIfNoEntry: false });
      if (stat?.isFile()) snapshot.set(relative(root, file), stat.mtimeMs);
    }
  }
  return snapshot;
}

/** Files added, removed or modified since `before` (a `sourceSnapshot()`). */
export function changedSources(before) {
  const after = sourceSnapshot();
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names].filter((name) => before.get(name) !== after.get(name)).sort();
}
