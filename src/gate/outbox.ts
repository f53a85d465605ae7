/**
 * Records a gate sends elsewhere (slow shard calls to the control database, usage to the usage
 * queue), kept in its storage from the moment they are made until the receiver has them. Each
 * carries its own id, given when it was made, so one sent twice (a send that failed after the
 * receiver had it, a restart before `sent`) is recognised as the same record by the receiver.
 */
export const OUTBOX_TABLE = `CREATE TABLE IF NOT EXISTS telemetry_outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, body TEXT NOT NULL)`;

export type OutboxKind = "slow-query" | "usage";

export class GateOutbox {
  constructor(private readonly sql: SqlStorage) {}

  load() {
    this.sql.exec(OUTBOX_TABLE);
  }

  /** Stores a record; run it in the transaction that made it. */
  add(kind: OutboxKind, body: object) {
    this.sql.exec("INSERT INTO telemetry_outbox (kind, body) VALUES (?, ?)", kind, JSON.stringify(body));
  }

  has(kind: OutboxKind): boolean {
    return this.sql.exec("SELECT 1 FROM telemetry_outbox WHERE kind = ? LIMIT 1", kind).toArray().length > 0;
  }

  /** The oldest `limit` records of a kind not yet confirmed sent. */
  pending<T>(kind: OutboxKind, limit: number): { seq: number; body: T }[] {
    return this.sql
      .exec<{ seq: number; body: string }>(
        "SELECT seq, body FROM telemetry_outbox WHERE kind = ? ORDER BY seq LIMIT ?",
        kind,
        limit,
      )
      .toArray()
      .map(({ seq, body }) => ({ seq, body: JSON.parse(body) as T }));
  }

  /** The receiver has these: they go. */
  sent(seqs: number[]) {
    for (const seq of seqs) this.sql.exec("DELETE FROM telemetry_outbox WHERE seq = ?", seq);
  }
}
