import { addCell, type Cell, type COUNTERS, emptyCell } from "./cell";
import { BUCKETS_MS } from "./histogram";

// Prometheus text exposition format 0.0.4: `# HELP` and `# TYPE` once per family, then its
// samples; a histogram's buckets cumulative, ending with le="+Inf" equal to its _count.

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export type Labels = Record<string, string>;

const escapeLabel = (value: string) => value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
const escapeHelp = (value: string) => value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");

function labelText(labels: Labels): string {
  const pairs = Object.entries(labels).map(([name, value]) => `${name}="${escapeLabel(value)}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/** A number as the format writes it (integers plainly, others without exponent noise). */
const num = (value: number) => (Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(15))));

/** Builds one exposition, family by family. */
export class Exposition {
  private readonly lines: string[] = [];
  private readonly families = new Set<string>();

  private family(name: string, type: "counter" | "gauge" | "histogram", help: string) {
    if (this.families.has(name)) throw new Error(`metric family ${name} written twice`);
    this.families.add(name);
    this.lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  private scalars(name: string, type: "counter" | "gauge", help: string, samples: { labels: Labels; value: number }[]) {
    this.family(name, type, help);
    for (const { labels, value } of samples) this.lines.push(`${name}${labelText(labels)} ${num(value)}`);
    return this;
  }

  counter(name: string, help: string, samples: { labels: Labels; value: number }[]) {
    return this.scalars(name, "counter", help, samples);
  }

  gauge(name: string, help: string, samples: { labels: Labels; value: number }[]) {
    return this.scalars(name, "gauge", help, samples);
  }

  /** A latency histogram in seconds from cells (ms buckets, src/metrics/histogram.ts). */
  histogram(name: string, help: string, samples: { labels: Labels; cell: Cell }[]) {
    this.family(name, "histogram", help);
    for (const { labels, cell } of samples) {
      let cumulative = 0;
      for (let i = 0; i < BUCKETS_MS.length; i++) {
        cumulative += cell.buckets[i] ?? 0;
        const le = num((BUCKETS_MS[i] as number) / 1000);
        this.lines.push(`${name}_bucket${labelText({ ...labels, le })} ${cumulative}`);
      }
      const count = cumulative + (cell.buckets[BUCKETS_MS.length] ?? 0);
      this.lines.push(`${name}_bucket${labelText({ ...labels, le: "+Inf" })} ${count}`);
      this.lines.push(`${name}_sum${labelText(labels)} ${num(cell.sumMs / 1000)}`);
      this.lines.push(`${name}_count${labelText(labels)} ${count}`);
    }
    return this;
  }

  text(): string {
    return `${this.lines.join("\n")}\n`;
  }
}

/** Cells added up by a key the caller derives, in first-seen order. */
export function sumBy<T>(rows: T[], key: (row: T) => string | null, cell: (row: T) => Cell): Map<string, Cell> {
  const sums = new Map<string, Cell>();
  for (const row of rows) {
    const k = key(row);
    if (k === null) continue;
    let sum = sums.get(k);
    if (!sum) {
      sum = emptyCell();
      sums.set(k, sum);
    }
    addCell(sum, cell(row));
  }
  return sums;
}

/** The status classes a request cell counts, as label values. */
export const STATUS_CLASSES = [
  ["2xx", "s2xx"],
  ["3xx", "s3xx"],
  ["4xx", "s4xx"],
  ["5xx", "s5xx"],
] as const satisfies readonly (readonly [string, (typeof COUNTERS)[number]])[];
