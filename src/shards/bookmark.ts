import { Buffer } from "node:buffer";
import { AppError } from "../http/problems";
import { aesKey } from "../secrets";

/**
 * X-Shard-Bookmark, sealed. A D1 bookmark is a position in the shard's commit log, which every
 * tenant of a shared shard advances: handed out as it is, it would let a tenant count the others'
 * writes. So the client gets it encrypted and authenticated (AES-256-GCM) with the tenant's id
 * as associated data: opaque, different each time, and refused when another tenant sends it.
 * The shard's id is sealed inside, so a bookmark from before a move is recognised and set aside.
 */
export const BOOKMARK_HEADER = "X-Shard-Bookmark";

const VERSION = "v1.";
const IV_BYTES = 12;
const SEALED = /^v1\.[A-Za-z0-9_-]{24,600}$/;

const invalid = () =>
  new AppError("validation-error", `${BOOKMARK_HEADER} is not a bookmark this API returned to this tenant`, {
    extensions: {
      errors: [{ path: `header.${BOOKMARK_HEADER}`, message: "a bookmark from an earlier response of this tenant" }],
    },
  });

export async function sealBookmark(env: Env, tenantId: string, shardId: string, bookmark: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
  const sealed = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: Buffer.from(tenantId) },
    await aesKey(env, "shard-bookmark"),
    Buffer.from(`${shardId}\n${bookmark}`),
  );
  return `${VERSION}${Buffer.concat([iv, new Uint8Array(sealed)]).toString("base64url")}`;
}

/**
 * The D1 bookmark inside a sealed one, or null if it was issued for another shard (the tenant
 * has moved since: the new shard's primary holds everything it wrote). Anything this tenant was
 * not given is a 400.
 */
export async function openBookmark(
  env: Env,
  tenantId: string,
  shardId: string,
  sealed: string,
): Promise<string | null> {
  if (!SEALED.test(sealed)) throw invalid();
  const encoded = sealed.slice(VERSION.length);
  const bytes = Buffer.from(encoded, "base64url");
  // Buffer decodes leniently (a stray last character is dropped); only our own encoding is ours.
  if (bytes.toString("base64url") !== encoded) throw invalid();
  let plain: string;
  try {
    plain = Buffer.from(
      await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: Buffer.from(tenantId) },
        await aesKey(env, "shard-bookmark"),
        bytes.subarray(IV_BYTES),
      ),
    ).toString();
  } catch {
    throw invalid();
  }
  const newline = plain.indexOf("\n");
  return plain.slice(0, newline) === shardId ? plain.slice(newline + 1) : null;
}
