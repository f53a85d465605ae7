import { newId } from "../../src/http/ids.ts";
import { SCOPES } from "../../src/keys/scopes.ts";
import { generateKey, parseKey } from "../../src/keys/secret.ts";
import { d1Query } from "./wrangler.mjs";

const ALL_SCOPES = JSON.stringify(SCOPES);
const quote = (value) => `'${String(value).replaceAll("'", "''")}'`;

/** Mints a platform-admin key into the control database; only its hash is written. */
export async function mintAdminKey(name, target) {
  const generated = await generateKey();
  const sql = `INSERT INTO api_keys (id, tenant_id, user_id, name, prefix, secret_hash, scopes, created_at)
    VALUES (${quote(newId("key"))}, NULL, NULL, ${quote(name)}, ${quote(generated.prefix)}, ${quote(generated.secretHash)}, ${quote(ALL_SCOPES)}, ${Date.now()})`;
  d1Query("CONTROL_DB", sql, target);
  return generated.key;
}

/** True when the key's prefix names a live platform-admin key in the control database. */
export function adminKeyExists(key, target) {
  const prefix = parseKey(key)?.prefix;
  if (!prefix) return false;
  const rows = d1Query(
    "CONTROL_DB",
    `SELECT id FROM api_keys WHERE prefix = ${quote(prefix)} AND tenant_id IS NULL AND revoked_at IS NULL`,
    target,
  );
  return rows.length > 0;
}
