import { type CounterMeter, type GaugeHour, HOUR_MS, hourOf } from "./record";

/** The gauge as the gate follows it: the level known since `since`, and the current hour's figures. */
type Gauge = {
  level: number | null;
  since: number;
  hour: number;
  max: number;
  /** Level × ms over the hour's known part, and that part's length. */
  integral: number;
  covered: number;
  /** When the level was last read from the shard (0: never). */
  readAt: number;
};

export const USAGE_TABLE = "CREATE TABLE IF NOT EXISTS usage_state (name TEXT PRIMARY KEY, body TEXT NOT NULL)";

/** The stored-bytes level is read from the shard again after this long (or in a new hour). */
export const GAUGE_READ_MS = 5 * 60_000;

/** What a seal hands over: counter quantities per hour, and gauge hours (closed ones final, the current one so far). */
export type Sealed = {
  counts: { meter: CounterMeter; hour: number; quantity: number }[];
  gauge: GaugeHour[];
};

const emptyGauge = (): Gauge => ({ level: null, since: 0, hour: 0, max: 0, integral: 0, covered: 0, readAt: 0 });

/**
 * A tenant's usage as its gate meters it: counters added to per hour in memory and written with the
 * gate's batched flush (the same transaction as the quota, so the two agree after any restart), and
 * the stored-bytes gauge, a level known from readings of the shard, integrated over time. `seal`
 * turns what accumulated into quantities the caller stores as usage records in the same
 * transaction, so nothing counted is lost or sent twice under different ids.
 */
export class UsageMeter {
  private open = new Map<string, number>();
  private gauge = emptyGauge();
  /** Gauge hours a reading closed, handed over by the next seal. */
  private closed: GaugeHour[] = [];
  private dirty = false;

  constructor(private readonly sql: SqlStorage) {}

  load() {
    this.sql.exec(USAGE_TABLE);
    const [row] = this.sql.exec<{ body: string }>("SELECT body FROM usage_state WHERE name = 'meter'").toArray();
    const stored = row
      ? (JSON.parse(row.body) as { open: [string, number][]; gauge: Gauge; closed?: GaugeHour[] })
      : null;
    this.open = new Map(stored?.open ?? []);
    this.gauge = stored?.gauge ?? emptyGauge();
    this.closed = stored?.closed ?? [];
    this.dirty = false;
  }

  clear() {
    this.open.clear();
    this.gauge = emptyGauge();
    this.closed = [];
    this.dirty = false;
  }

  count(at: number, meter: CounterMeter, quantity: number) {
    if (quantity <= 0) return;
    const key = `${hourOf(at)}|${meter}`;
    this.open.set(key, (this.open.get(key) ?? 0) + quantity);
    this.dirty = true;
  }

  get hasUnsaved() {
    return this.dirty;
  }

  /** Whether a seal would hand over counts or closed gauge hours. */
  get hasOpen() {
    return this.open.size > 0 || this.closed.length > 0;
  }

  /** Whether the level should be read (again) from the shard now. */
  wantsReading(now: number) {
    const { level, readAt } = this.gauge;
    return level === null || now - readAt >= GAUGE_READ_MS || hourOf(readAt) !== hourOf(now);
  }

  /** The level read from the shard; `at` is when the read started (it reflects every write before). */
  level(at: number, bytes: number) {
    this.advance(Math.max(at, this.gauge.since), this.closed);
    this.gauge.level = bytes;
    this.gauge.max = Math.max(this.gauge.max, bytes);
    this.gauge.readAt = at;
    this.dirty = true;
  }

  /** Writes the meter's state; run it in the flush's (or the seal's) transaction. */
  save() {
    if (!this.dirty) return;
    this.sql.exec(
      "INSERT INTO usage_state (name, body) VALUES ('meter', ?) ON CONFLICT (name) DO UPDATE SET body = excluded.body",
      JSON.stringify({ open: [...this.open], gauge: this.gauge, closed: this.closed }),
    );
    this.dirty = false;
  }

  /** Everything counted so far, and the gauge up to `now`; the counters start again from zero. */
  seal(now: number): Sealed {
    const closed = this.closed;
    this.closed = [];
    this.advance(now, closed);
    const counts = [...this.open].map(([key, quantity]) => {
      const [hour, meter] = key.split("|") as [string, CounterMeter];
      return { meter, hour: Number(hour), quantity };
    });
    this.open.clear();
    const { level, hour, max, integral, covered } = this.gauge;
    const gauge = level === null ? closed : [...closed, figures(hour, max, integral, covered, level)];
    this.dirty = true;
    return { counts, gauge };
  }

  /** Integrates the level up to `to`, closing the hours it passes (the hours between, level unchanged, are implied). */
  private advance(to: number, closed: GaugeHour[]) {
    const gauge = this.gauge;
    if (gauge.level === null) {
      Object.assign(gauge, { since: to, hour: hourOf(to), max: 0, integral: 0, covered: 0 });
      return;
    }
    if (to < gauge.since) return;
    const end = gauge.hour + HOUR_MS;
    if (to < end) {
      gauge.integral += gauge.level * (to - gauge.since);
      gauge.covered += to - gauge.since;
      gauge.since = to;
      return;
    }
    gauge.integral += gauge.level * (end - gauge.since);
    gauge.covered += end - gauge.since;
    closed.push(figures(gauge.hour, gauge.max, gauge.integral, gauge.covered, gauge.level));
    const hour = hourOf(to);
    Object.assign(gauge, {
      hour,
      since: to,
      max: gauge.level,
      integral: gauge.level * (to - hour),
      covered: to - hour,
    });
  }
}

const figures = (hour: number, max: number, integral: number, covered: number, last: number): GaugeHour => ({
  hour,
  max,
  avg: covered === 0 ? last : integral / covered,
  last,
  coveredMs: covered,
});
