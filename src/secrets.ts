import { Buffer } from "node:buffer";

/**
 * PLATFORM_SECRET (a Worker secret, `wrangler secret put PLATFORM_SECRET`; `npm start` writes a
 * random one to `.dev.vars`) is the root of the keys the Worker derives for itself, one per
 * purpose, with HKDF: a purpose's key tells nothing about another's.
 */
export const MIN_SECRET_LENGTH = 32;

export type KeyPurpose = "shard-bookmark" | "download-link" | "webhook-secret";

const derived = new Map<string, Promise<CryptoKey>>();

function platformSecret(env: { PLATFORM_SECRET?: string }): string {
  const secret = env.PLATFORM_SECRET;
  if (typeof secret !== "string" || secret.length < MIN_SECRET_LENGTH) {
    // Deploys refuse to run without it ([secrets] in wrangler.toml); this is the last guard.
    throw new Error(`PLATFORM_SECRET must be set to at least ${MIN_SECRET_LENGTH} characters`);
  }
  return secret;
}

/** The key of `purpose` for `algorithm`, derived once per isolate. */
function derivedKey(
  env: { PLATFORM_SECRET?: string },
  purpose: KeyPurpose,
  algorithm: SubtleCryptoImportKeyAlgorithm,
  usages: string[],
): Promise<CryptoKey> {
  const secret = platformSecret(env);
  const id = `${purpose}\n${secret}`;
  let key = derived.get(id);
  if (!key) {
    key = (async () => {
      const material = await crypto.subtle.importKey("raw", Buffer.from(secret), "HKDF", false, ["deriveKey"]);
      return crypto.subtle.deriveKey(
        { name: "HKDF", hash: "SHA-256", salt: Buffer.from("edge-tenancy"), info: Buffer.from(purpose) },
        material,
        algorithm,
        false,
        usages,
      );
    })();
    derived.set(id, key);
  }
  return key;
}

/** The AES-256-GCM key for `purpose`. */
export const aesKey = (env: { PLATFORM_SECRET?: string }, purpose: KeyPurpose): Promise<CryptoKey> =>
  derivedKey(env, purpose, { name: "AES-GCM", length: 256 }, ["encrypt", "decrypt"]);

/** The HMAC-SHA-256 key for `purpose`. */
export const hmacKey = (env: { PLATFORM_SECRET?: string }, purpose: KeyPurpose): Promise<CryptoKey> =>
  derivedKey(env, purpose, { name: "HMAC", hash: "SHA-256", length: 256 }, ["sign", "verify"]);
