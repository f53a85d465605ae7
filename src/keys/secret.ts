/**
 * API key format: `etk_<lookup>_<secret>`. The `etk_<lookup>` part is the public prefix used to
 * find the row (and shown in listings); only SHA-256(secret) is stored.
 */
export const KEY_PREFIX = "etk_";
const KEY_PATTERN = /^etk_([A-Za-z0-9]{16})_([A-Za-z0-9_-]{43})$/;
const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

function randomLookup(): string {
  // 62^16 ≈ 2^95; rejection sampling keeps the alphabet uniform.
  const out: string[] = [];
  while (out.length < 16) {
    for (const byte of crypto.getRandomValues(new Uint8Array(32))) {
      if (byte < 248 && out.length < 16) out.push(ALPHABET[byte % 62] as string);
    }
  }
  return out.join("");
}

function base64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes))
    .replaceAll("+", "-")
    .replaceAll("/", "_")
    .replace(/=+$/, "");
}

export async function sha256Hex(input: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(input));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

export type GeneratedKey = { key: string; prefix: string; secretHash: string };

export async function generateKey(): Promise<GeneratedKey> {
  const lookup = randomLookup();
  const secret = base64url(crypto.getRandomValues(new Uint8Array(32)));
  return {
    key: `${KEY_PREFIX}${lookup}_${secret}`,
    prefix: `${KEY_PREFIX}${lookup}`,
    secretHash: await sha256Hex(secret),
  };
}

export function parseKey(key: string): { prefix: string; secret: string } | null {
  const match = KEY_PATTERN.exec(key);
  if (!match) return null;
  return { prefix: `${KEY_PREFIX}${match[1]}`, secret: match[2] as string };
}

/** Compares two hex digests without an early exit, so timing reveals nothing about the stored hash. */
export function digestsEqual(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  if (left.byteLength !== right.byteLength) return false;
  return crypto.subtle.timingSafeEqual(left, right);
}
