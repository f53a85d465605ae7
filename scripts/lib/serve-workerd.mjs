// Serves the bundled Worker from workerd (see workerd.mjs) until stdin closes, and prints one JSON
// line with its base URL and platform-admin key once it is ready. For tests that need the Worker
// on a real port (the browser test of /docs, the offline audit verifier's) without loading
// Miniflare into their own process. AUDIT_CHECKPOINT_KEY from the environment, when set, is the
// Worker's; SERVE_WORKERD_OPTIONS, a JSON object, adds startWorkerd's options (port, bindings,
// s3Credentials). Each further line on stdin, `{"binding", "sql", "params"}`, runs one statement on that
// D1 database and answers one JSON line: how a test tampers with what the Worker stored.
import { createInterface } from "node:readline";
import { startWorkerd } from "./workerd.mjs";

const outDir = process.argv[2];
const options = JSON.parse(process.env.SERVE_WORKERD_OPTIONS ?? "{}");
const bindings = {
  ...(process.env.AUDIT_CHECKPOINT_KEY ? { AUDIT_CHECKPOINT_KEY: process.env.AUDIT_CHECKPOINT_KEY } : {}),
  ...options.bindings,
};
const platform = await startWorkerd({ port: 0, ...options, bindings, ...(outDir ? { outDir } : {}) });
process.stdout.write(`${JSON.stringify({ baseUrl: platform.baseUrl, adminKey: platform.adminKey })}\n`);
const stop = async () => {
  await platform.stop();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.on("SIGTERM", stop);
for await (const line of createInterface({ input: process.stdin })) {
  try {
    const { binding, sql, params = [] } = JSON.parse(line);
    const db = await platform.d1(binding);
    const result = await db
      .prepare(sql)
      .bind(...params)
      .run();
    process.stdout.write(`${JSON.stringify({ ok: true, changes: result.meta.changes })}\n`);
  } catch (error) {
    process.stdout.write(`${JSON.stringify({ ok: false, error: String(error) })}\n`);
  }
}
