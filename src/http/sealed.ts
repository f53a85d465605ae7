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

const CHUNK = 3 * 8192;
const toBase64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const fromBase64 = (text: string) => Uint8Array.from(atob(text), (ch) => ch.charCodeAt(0));

export async function seal(secret: string, context: string, plaintext: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const key = await derive(secret, context);
  const ciphertext = new Uint8Array(
    await crypto.subtle.encrypt({ name: "AES-GCM", iv }, key, new TextEncoder().encode(plaintext)),
  );
  const out = new Uint8Array(iv.byteLength + ciphertext.byteLength);
  out.set(iv);
  out.set(ciphertext, iv.byteLength);
  // Chunked so large bodies do not overflow String.fromCharCode's argument list; a multiple of
  // 3 bytes per chunk keeps base64 padding out of the middle.
  let encoded = "";
  for (let i = 0; i < out.byteLength; i += CHUNK) encoded += toBase64(out.subarray(i, i + CHUNK));
  return encoded;
}

export async function open(secret: string, context: string, sealed: string): Promise<string> {
  const bytes = fromBase64(sealed);
  const key = await derive(secret, context);
  const plaintext = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.subarray(0, 12) },
    key,
    bytes.subarray(12),
  );
  return new TextDecoder().decode(plaintext);
}
