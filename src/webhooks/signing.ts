import { Buffer } from "node:buffer";
import { aesKey } from "../secrets";

// Standard Webhooks signatures: `webhook-signature` is `v1,<base64 HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>">`, keyed by the bytes the secret's base64 (after
// `whsec_`) encodes; several space-separated signatures while a rotation's old secret still signs.

const PREFIX = "whsec_";
/** 24 random bytes, as the Standard Webhooks libraries generate them. */
const SECRET_BYTES = 24;

export const newSecret = () =>
  `${PREFIX}${Buffer.from(crypto.getRandomValues(new Uint8Array(SECRET_BYTES))).toString("base64")}`;

/** A secret a caller may bring: `whsec_` and the base64 of 24 to 64 bytes. */
export function secretProblem(secret: string): string | null {
  if (!secret.startsWith(PREFIX)) return "must start with whsec_";
  const body = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return "must be whsec_ and base64";
  const bytes = Buffer.from(body, "base64").byteLength;
  return bytes >= 24 && bytes <= 64 ? null : "must encode 24 to 64 bytes";
}

const hmacKeys = new Map<string, Promise<CryptoKey>>();

function hmacOf(secret: string): Promise<CryptoKey> {
  let key = hmacKeys.get(secret);
  if (!key) {
    key = crypto.subtle.importKey(
      "raw",
      Buffer.from(secret.slice(PREFIX.length), "base64"),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    );
    // A handful of endpoints per isolate; forget them all rather than grow without bound.
    if (hmacKeys.size >= 1000) hmacKeys.clear();
    hmacKeys.set(secret, key);
  }
  return key;
}

/** The `webhook-signature` value of a message, one `v1,` signature per secret. */
export async function signatureHeader(
  secrets: readonly string[],
  id: string,
  timestampSeconds: number,
  body: string,
): Promise<string> {
  const content = new TextEncoder().encode(`${id}.${timestampSeconds}.${body}`);
  const signatures = await Promise.all(
    secrets.map(async (secret) => {
      const mac = await crypto.subtle.sign("HMAC", await hmacOf(secret), content);
      return `v1,${Buffer.from(mac).toString("base64")}`;
    }),
  );
  return signatures.join(" ");
}

// Endpoint secrets are sealed at rest under the platform's key for this purpose, bound to the
// endpoint's id: a sealed secret copied onto another endpoint's row does not open.

export async function sealSecret(env: Env, endpointId: string, secret: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: new TextEncoder().encode(endpointId) },
    await aesKey(env, "webhook-secret"),
    new TextEncoder().encode(secret),
  );
  return Buffer.concat([iv, new Uint8Array(sealed)]).toString("base64");
}

export async function openSecret(env: Env, endpointId: string, sealed: string): Promise<string> {
  const bytes = Buffer.from(sealed, "base64");
  const plain = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: bytes.subarray(0, 12), additionalData: new TextEncoder().encode(endpointId) },
    await aesKey(env, "webhook-secret"),
    bytes.subarray(12),
  );
  return new TextDecoder().decode(plain);
}
