import { Buffer } from "node:buffer";

/**
 * Seals data with AES-256-GCM under a key derived (HKDF-SHA-256) from a secret the server does
 * not store, e.g. the caller's API key. Whoever reads the database cannot open it.
 */
async function derive(secret: string, context: string): Promise<CryptoKey> {
  const material = await crypto.subtle.importKey("raw", new TextEncoder().encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    { name: "HKDF", hash: "SHA-256", salt: new TextEncoder().encode(context), info: new TextEncoder().encode("seal") },
    material,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

export async function seal(secret: string, context: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await derive(secret, context);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(plaintext)),
  );
  return Buffer.concat([iv, ciphertext]).toString("base64");
}

export async function open(secret: string, context: string, sealed: string): Promise<string> {
  const bytes = Buffer.from(sealed, "base64");
  const key = await derive(secret, context);
  const plaintext = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.subarray(0, 12) },
    key,
    bytes.subarray(12),
  );
  return new TextDecoder().decode(plaintext);
}
