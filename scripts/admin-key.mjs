// Mints a platform-admin key and prints it once: `npm run admin-key -- [--remote] [--name NAME]`.
import { mintAdminKey } from "./lib/admin-key.mjs";

const args = process.argv.slice(2);
const target = args.includes("--remote") ? "--remote" : "--local";
const nameAt = args.indexOf("--name");
const name = nameAt >= 0 ? args[nameAt + 1] : "operator";

const key = await mintAdminKey(name, target);
console.log(`Platform-admin key (${target.slice(2)}): ${key}`);
console.log("Store it now: only its SHA-256 is kept.");
