import { type Cell, emptyCell, type MinuteRow, minuteOf, type Observation, observe, type Series } from "./cell";

/** The gate's storage table of the cells it has not yet sent, or sent but still in their minute. */
export const CELLS_TABLE = `CREATE TABLE IF NOT EXISTS metric_cells (
  minute INTEGER NOT NULL, tier TEXT NOT NULL, series TEXT NOT NULL, label TEXT NOT NULL,
  body TEXT NOT NULL, sent INTEGER NOT NULL DEFAULT 0, PRIMARY KEY (minute, tier, series, label))`;

type Held = { row: MinuteRow; version: number };

/** A snapshot of unsent cells, to confirm with `sent` once the control database has them. */
export type Unsent = { rows: MinuteRow[]; versions: Map<string, number> };

const keyOf = (minute: number, tier: string, series: Series, label: string) => `${minute}|${tier}|${series}|${label}`;

/**
 * A tenant's request metrics as its gate aggregates them: one cell per minute, tier, series and
 * label, changed in memory per observation, written to the gate's storage with the gate's own
 * batched flush (never a write per request), and sent to the control database a minute at a time
 * (src/metrics/store.ts), where a cell's row is set, not added to, so sending one again is harmless.
 * A sent cell of the current minute stays, as later observations change it and it is sent whole
 * again; older sent cells are dropped.
 */
export class MetricsRecorder {
  private readonly cells = new Map<string, Held>();
  /** Changed since written to storage. */
  private readonly unsaved = new Set<string>();
  /** Changed since sent to the control database. */
  private readonly unsent = new Set<string>();

  constructor(private readonly sql: SqlStorage) {}

  /** Reads the stored cells (after a restart, or once the storage was replaced). */
  load() {
    this.cells.clear();
    this.unsaved.clear();
    this.unsent.clear();
    this.sql.exec(CELLS_TABLE);
    for (const stored of this.sql.exec<{
      minute: number;
      tier: string;
      series: Series;
      label: string;
      body: string;
      sent: number;
    }>("SELECT minute, tier, series, label, body, sent FROM metric_cells")) {
      const key = keyOf(stored.minute, stored.tier, stored.series, stored.label);
      const row: MinuteRow = { ...stored, cell: JSON.parse(stored.body) as Cell };
      this.cells.set(key, { row, version: 0 });
      if (stored.sent === 0) this.unsent.add(key);
    }
  }

  record(at: number, tier: string, series: Series, label: string, observation: Observation) {
    const minute = minuteOf(at);
    const key = keyOf(minute, tier, series, label);
    let held = this.cells.get(key);
    if (!held) {
      held = { row: { minute, tier, series, label, cell: emptyCell() }, version: 0 };
      this.cells.set(key, held);
    }
    observe(held.row.cell, observation);
    held.version++;
    this.unsaved.add(key);
    this.unsent.add(key);
  }

  get hasUnsaved() {
    return this.unsaved.size > 0;
  }

  get hasUnsent() {
    return this.unsent.size > 0;
  }

  /** Writes the changed cells to storage; the caller runs it in its flush's transaction. */
  save() {
    for (const key of this.unsaved) {
      const held = this.cells.get(key);
      if (!held) continue;
      const { minute, tier, series, label, cell } = held.row;
      this.sql.exec(
        `INSERT INTO metric_cells (minute, tier, series, label, body, sent) VALUES (?, ?, ?, ?, ?, 0)
         ON CONFLICT (minute, tier, series, label) DO UPDATE SET body = excluded.body, sent = 0`,
        minute,
        tier,
        series,
        label,
        JSON.stringify(cell),
      );
    }
    this.unsaved.clear();
  }

  /** The cells changed since they were last sent, as they stand now (copies). */
  unsentRows(): Unsent {
    const rows: MinuteRow[] = [];
    const versions = new Map<string, number>();
    for (const key of this.unsent) {
      const held = this.cells.get(key);
      if (!held) continue;
      rows.push(structuredClone(held.row));
      versions.set(key, held.version);
    }
    return { rows, versions };
  }

  /**
   * The control database has `unsent`: a cell not changed since counts as sent; cells of minutes
   * before `now`'s that are sent are dropped. Saves first, so storage never holds a cell newer in
   * memory than what it marks sent.
   */
  sent({ versions }: Unsent, now: number) {
    this.save();
    for (const [key, version] of versions) {
      const held = this.cells.get(key);
      if (held?.version !== version) continue;
      this.unsent.delete(key);
      const { minute, tier, series, label } = held.row;
      this.sql.exec(
        "UPDATE metric_cells SET sent = 1 WHERE minute = ? AND tier = ? AND series = ? AND label = ?",
        minute,
        tier,
        series,
        label,
      );
    }
    const current = minuteOf(now);
    for (const [key, held] of this.cells) {
      if (held.row.minute < current && !this.unsent.has(key)) this.cells.delete(key);
    }
    this.sql.exec("DELETE FROM metric_cells WHERE minute < ? AND sent = 1", current);
  }

  /** Forgets every cell (the storage is being emptied). */
  clear() {
    this.cells.clear();
    this.unsaved.clear();
    this.unsent.clear();
  }
}
