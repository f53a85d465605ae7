import { createHmac, timingSafeEqual } from "node:crypto";
import { canonicalJson } from "../datasets/canonical";

/**
 * A checkpoint is an HMAC-SHA256 (hex), keyed with the AUDIT_CHECKPOINT_KEY secret, over the RFC
 * 8785 JSON of `{tenant, seq, hash, time}`: someone who can rewrite the database but does not
 * hold the key cannot make a rewritten chain agree with the checkpoints signed before.
 * `tenant` is the tenant's id, or "platform" for the platform's trail; `time` is ISO 8601.
 */
export type CheckpointClaim = { tenant: string; seq: number; hash: string; time: string };

export const MIN_CHECKPOINT_KEY_LENGTH = 32;

export function checkpointKey(env: { AUDIT_CHECKPOINT_KEY?: string }): string {
  const key = env.AUDIT_CHECKPOINT_KEY;
  if (typeof key !== "string" || key.length < MIN_CHECKPOINT_KEY_LENGTH) {
    throw new Error(`AUDIT_CHECKPOINT_KEY must be set to at least ${MIN_CHECKPOINT_KEY_LENGTH} characters`);
  }
  return key;
}

/** Signs exactly the claim's four fields, whatever else the object carries. */
export const signCheckpoint = (key: string, { tenant, seq, hash, time }: CheckpointClaim) =>
  createHmac("sha256", key).update(canonicalJson({ tenant, seq, hash, time })).digest("hex");

export function checkpointValid(key: string, claim: CheckpointClaim, signature: string): boolean {
  const expected = Buffer.from(signCheckpoint(key, claim), "hex");
  const given = Buffer.from(signature, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** The trail's name in a checkpoint claim. */
export const trailName = (tenantId: string | null) => tenantId ?? "platform";

/** A stored checkpoint as the claim it signed, with its signature. */
export const checkpointEntry = (
  tenantId: string | null,
  checkpoint: { seq: number; hash: string; signedAt: number; signature: string },
): CheckpointClaim & { signature: string } => ({
  tenant: trailName(tenantId),
  seq: checkpoint.seq,
  hash: checkpoint.hash,
  time: new Date(checkpoint.signedAt).toISOString(),
  signature: checkpoint.signature,
});
