import { Buffer } from "node:buffer";
import { hmacKey } from "../secrets";

// Download links the Worker serves itself: the path and an expiry, signed with HMAC-SHA-256 under a
// key derived from PLATFORM_SECRET. Whoever holds a link may fetch that one object until it
// expires, with no API key; changing any part of it breaks the signature.

/** The path of an export's download (the part of the link the signature covers, with the expiry). */
export const downloadPath = (tenantId: string, exportId: string) =>
  `/downloads/tenants/${tenantId}/exports/${exportId}`;

/** What is signed: the method (HEAD is signed as GET), the path, the expiry in Unix seconds. */
const signedText = (method: string, path: string, expires: number) =>
  `${method === "HEAD" ? "GET" : method}\n${path}\n${expires}`;

async function signature(env: Env, method: string, path: string, expires: number): Promise<Buffer> {
  const key = await hmacKey(env, "download-link");
  return Buffer.from(await crypto.subtle.sign("HMAC", key, Buffer.from(signedText(method, path, expires))));
}

/** A signed link to `path` (under `origin`) for GET, valid until `expiresAt` (ms, rounded down to a second). */
export async function signLink(env: Env, origin: string, path: string, expiresAt: number): Promise<string> {
  const expires = Math.floor(expiresAt / 1000);
  const url = new URL(path, origin);
  url.searchParams.set("expires", String(expires));
  url.searchParams.set("signature", (await signature(env, "GET", path, expires)).toString("base64url"));
  return url.toString();
}

export type LinkCheck = "valid" | "invalid" | "expired";

/**
 * Whether a request's method, path, expiry and signature are a link this Worker signed, and
 * whether it is still valid. The signature is checked first, in constant time, so an expiry
 * pushed into the future is "invalid", not a way to learn anything.
 */
export async function checkLink(
  env: Env,
  request: { method: string; path: string; expires: string | undefined; signature: string | undefined },
  now = Date.now(),
): Promise<LinkCheck> {
  const { expires, signature: given } = request;
  if (!expires || !/^\d{1,12}$/.test(expires) || !given || !/^[A-Za-z0-9_-]{43}$/.test(given)) return "invalid";
  const key = await hmacKey(env, "download-link");
  const ok = await crypto.subtle.verify(
    "HMAC",
    key,
    Buffer.from(given, "base64url"),
    Buffer.from(signedText(request.method, request.path, Number(expires))),
  );
  if (!ok) return "invalid";
  return Number(expires) * 1000 <= now ? "expired" : "valid";
}
