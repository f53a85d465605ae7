import { spawn } from "node:child_process";
import { createInterface } from "node:readline";

// For tests in Node that need the Worker on a real port (scripts/lib/serve-workerd.mjs serves
// the bundled Worker from workerd in a process of its own), and a small client of its API.

export type ServedWorker = { base: string; admin: string; stop: () => void };

/** Bundles the Worker into `outDir` and serves it; `options` are startWorkerd's (port, bindings, s3Credentials). */
export async function serveWorker(outDir: string, options: Record<string, unknown> = {}): Promise<ServedWorker> {
  const script = new URL("../scripts/lib/serve-workerd.mjs", import.meta.url).pathname;
  const server = spawn(process.execPath, [script, outDir], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, SERVE_WORKERD_OPTIONS: JSON.stringify(options) },
  });
  const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error("the Worker's process ended");
    if (value.startsWith("{")) {
      const { baseUrl, adminKey } = JSON.parse(value) as { baseUrl: string; adminKey: string };
      return { base: baseUrl, admin: adminKey, stop: () => server.stdin?.end() };
    }
  }
}

/** JSON calls to the served Worker, with the platform-admin key unless another is given. */
export const apiOf =
  (worker: () => ServedWorker) =>
  async (path: string, init: { method?: string; key?: string; body?: unknown } = {}) => {
    const { base, admin } = worker();
    const res = await fetch(`${base}${path}`, {
      method: init.method ?? "GET",
      headers: {
        Authorization: `Bearer ${init.key ?? admin}`,
        ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
    });
    const text = await res.text();
    return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
  };
