// Serves the bundled Worker from workerd (see workerd.mjs) until stdin closes, and prints one JSON
// line with its base URL once it is ready. For tests that need the Worker on a real port (the
// browser test of /docs) without loading Miniflare into their own process.
import { startWorkerd } from "./workerd.mjs";

const outDir = process.argv[2];
const platform = await startWorkerd({ port: 0, ...(outDir ? { outDir } : {}) });
process.stdout.write(`${JSON.stringify({ baseUrl: platform.baseUrl })}\n`);
const stop = async () => {
  await platform.stop();
  process.exit(0);
};
process.stdin.on("end", stop);
process.stdin.on("close", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
