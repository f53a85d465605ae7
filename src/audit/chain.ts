import { type CheckpointClaim, checkpointValid } from "./checkpoints";
import { type AuditRecord, chainHash, GENESIS_HASH } from "./record";

// Verifying a trail, for the route (src/audit/service.ts); the offline verifier
// (scripts/verify-audit.mjs) makes the same checks with nothing but Node.

export type Break = { seq: number; reason: string };

export type CheckpointEntry = CheckpointClaim & { signature: string };

/**
 * Checks records given one at a time in seq order, in constant memory, from a start: genesis
 * (seq 1 links to 64 zeros) or a checkpoint (its seq + 1 links to its hash). Each checkpoint
 * must be signed with the key (when given) and name the hash the chain has at its seq; one past
 * the last record means records were cut off the end. Stops at the first break. A record not
 * linked yet (hash null) is counted as pending and chained through, so what follows it and the
 * checkpoints on it are checked against the hash it will get.
 */
export class ChainVerifier {
  private expectedSeq: number;
  private prevHash: string;
  private readonly checkpoints: CheckpointEntry[];
  checked = 0;
  pending = 0;
  checkpointsChecked = 0;
  broken: Break | null = null;

  constructor(
    private readonly key: string | null,
    checkpoints: readonly CheckpointEntry[],
    start: { seq: number; hash: string } = { seq: 0, hash: GENESIS_HASH },
  ) {
    this.expectedSeq = start.seq + 1;
    this.prevHash = start.hash;
    this.checkpoints = checkpoints.filter((c) => c.seq >= start.seq).sort((a, b) => b.seq - a.seq);
    this.passCheckpoints(start.seq, start.hash);
  }

  /** The last seq checked (or the start's), and the chain's hash there. */
  get head(): { seq: number; hash: string } {
    return { seq: this.expectedSeq - 1, hash: this.prevHash };
  }

  private fail(seq: number, reason: string) {
    this.broken = { seq, reason };
    return false;
  }

  /** Checks the checkpoints at `seq` (the chain's hash there is `hash`). */
  private passCheckpoints(seq: number, hash: string): boolean {
    for (let next = this.checkpoints.at(-1); next && next.seq <= seq; next = this.checkpoints.at(-1)) {
      this.checkpoints.pop();
      if (this.key !== null && !checkpointValid(this.key, next, next.signature)) {
        return this.fail(next.seq, `the checkpoint at seq ${next.seq} is not signed with the checkpoint key`);
      }
      if (next.seq === seq && next.hash !== hash) {
        return this.fail(next.seq, `the chain's hash at seq ${next.seq} is not the one its checkpoint signed`);
      }
      this.checkpointsChecked++;
    }
    return true;
  }

  add(record: AuditRecord): boolean {
    if (this.broken) return false;
    const expected = this.expectedSeq;
    if (record.seq !== expected) {
      return this.fail(
        record.seq,
        record.seq > expected
          ? `seq ${record.seq} follows ${expected - 1}: records ${expected}…${record.seq - 1} are missing`
          : `seq ${record.seq} follows ${expected - 1}: a record is repeated or out of order`,
      );
    }
    // A record not linked yet is checked all the same: its hash is what the chainer will write,
    // so the records after it (linked, say, on a shard the tenant moved from) must follow from it.
    const hash = chainHash(this.prevHash, record);
    if (record.hash === null) this.pending++;
    else {
      if (record.prev_hash !== this.prevHash)
        return this.fail(record.seq, "prev_hash is not the previous record's hash");
      if (hash !== record.hash) return this.fail(record.seq, "hash does not match the record's content");
      this.checked++;
    }
    this.prevHash = hash;
    this.expectedSeq++;
    return this.passCheckpoints(record.seq, hash);
  }

  /** After the last record: a checkpoint past it names records no longer there. */
  finish(): Break | null {
    if (this.broken) return this.broken;
    const beyond = this.checkpoints.at(0);
    if (beyond) this.fail(this.head.seq + 1, `a checkpoint signed seq ${beyond.seq}, past the last record`);
    return this.broken;
  }
}
