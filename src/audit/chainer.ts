import { signCheckpoint, trailName } from "./checkpoints";
import type { TrailStatements } from "./engines/trail";
import { auditRecord, chainHash, GENESIS_HASH } from "./record";

/** Records linked per statement batch, and batches per pass: a pass stays short (it runs as one
 * admitted write of the tenant), and the next pass goes on. */
const LINK_PAGE = 100;
const MAX_PAGES = 10;

/** A checkpoint is signed once this many records were linked since the last, or it is this old. */
export const CHECKPOINT_EVERY = 1_000;
export const CHECKPOINT_MAX_AGE_MS = 60 * 60 * 1000;

/**
 * Links the trail's records that are not linked yet, in seq order (`hash = SHA-256(prev_hash ‖
 * canonical JSON)`), then signs a checkpoint of the head when one is due. Two chainers at once
 * compute the same links (each only fills a hash still empty), so it needs no lock. Returns how
 * many records it linked.
 */
export async function chainTrail(
  trail: TrailStatements,
  tenantId: string | null,
  key: string,
  now = Date.now(),
): Promise<number> {
  let linked = 0;
  let head: { seq: number; hash: string } | null = null;
  for (let page = 0; page < MAX_PAGES; page++) {
    const rows = await trail.unchained(tenantId, LINK_PAGE);
    const first = rows[0];
    if (!first) break;
    let prev = first.seq === 1 ? GENESIS_HASH : await trail.anchorOf(tenantId, first.seq);
    if (prev === null)
      throw new Error(`audit record ${first.seq - 1} of ${trailName(tenantId)} is missing or not linked`);
    // Only the run of consecutive seqs from the first: after a move the target may hold linked
    // records between unlinked ones (copied as the source's chainer left them), and a record
    // after such a gap links to its own predecessor, which the next page anchors on.
    const run = rows.filter((row, i) => row.seq === first.seq + i);
    const links = run.map((row) => {
      const hash = chainHash(prev as string, auditRecord(tenantId, row));
      const link = { seq: row.seq, prevHash: prev as string, hash };
      prev = hash;
      return link;
    });
    await trail.link(tenantId, links);
    linked += links.length;
    const last = links[links.length - 1] as (typeof links)[number];
    head = { seq: last.seq, hash: last.hash };
    if (rows.length < LINK_PAGE && run.length === rows.length) break;
  }
  if (head) await checkpointIfDue(trail, tenantId, key, head, now);
  return linked;
}

async function checkpointIfDue(
  trail: TrailStatements,
  tenantId: string | null,
  key: string,
  head: { seq: number; hash: string },
  now: number,
) {
  const last = (await trail.checkpoints(tenantId)).at(-1);
  if (last && last.seq >= head.seq) return;
  if (last && head.seq - last.seq < CHECKPOINT_EVERY && now - last.signedAt < CHECKPOINT_MAX_AGE_MS) return;
  await signAt(trail, tenantId, key, head, now);
}

/** Signs and stores a checkpoint of the chain's hash at `at.seq`. */
export async function signAt(
  trail: TrailStatements,
  tenantId: string | null,
  key: string,
  at: { seq: number; hash: string },
  now = Date.now(),
) {
  const signature = signCheckpoint(key, {
    tenant: trailName(tenantId),
    seq: at.seq,
    hash: at.hash,
    time: new Date(now).toISOString(),
  });
  await trail.addCheckpoint(tenantId, { seq: at.seq, hash: at.hash, signedAt: now, signature });
}
