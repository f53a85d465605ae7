// `npm start`: migrate local D1, make sure a dev admin key exists, then serve on :8787.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { adminKeyExists, mintAdminKey } from "./lib/admin-key.mjs";
import { DEV_WEBHOOK_HOSTS } from "./lib/dev-webhooks.mjs";
import { WRANGLER, WRANGLER_ENV } from "./lib/wrangler.mjs";
import { migrateLocal } from "./migrate-local.mjs";

const KEY_FILE = new URL("../.dev.admin-key", import.meta.url);
const DEV_VARS = new URL("../.dev.vars", import.meta.url);
const PORT = process.env.PORT ?? "8787";

migrateLocal();

// Worker secrets for local runs live in the git-ignored .dev.vars; a new checkout gets random ones.
let devVars = existsSync(DEV_VARS) ? readFileSync(DEV_VARS, "utf8") : "";
for (const name of ["PLATFORM_SECRET", "AUDIT_CHECKPOINT_KEY"]) {
  if (new RegExp(`^${name}=`, "m").test(devVars)) continue;
  devVars = `${devVars}${devVars && !devVars.endsWith("\n") ? "\n" : ""}${name}=${randomBytes(32).toString("base64url")}\n`;
  writeFileSync(DEV_VARS, devVars, { mode: 0o600 });
}

// The dev key is kept in a git-ignored file so restarts print the same key.
let key = existsSync(KEY_FILE) ? readFileSync(KEY_FILE, "utf8").trim() : "";
if (!key || !adminKeyExists(key, "--local")) {
  key = await mintAdminKey("dev admin (npm start)", "--local");
  writeFileSync(KEY_FILE, `${key}\n`, { mode: 0o600 });
}
console.log(`Dev admin key: ${key}`);

const dev = spawn(
  WRANGLER,
  [
    "dev",
    "--test-scheduled",
    "--port",
    PORT,
    "--ip",
    "127.0.0.1",
    // Webhooks may reach receivers on this machine (the README's example); deployed, nothing is allowed.
    "--var",
    `WEBHOOK_ALLOW_HOSTS:${DEV_WEBHOOK_HOSTS}`,
    ...process.argv.slice(2),
  ],
  {
    stdio: "inherit",
    env: WRANGLER_ENV,
  },
);
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => dev.kill(signal));
dev.on("exit", (code) => process.exit(code ?? 0));
