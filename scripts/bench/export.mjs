// The export of a large tenant, at two sizes, each exported twice on a fresh platform whose
// storage is on disk (so neither the rows nor the archive's bytes sit in the process as the
// Worker's): N entries are seeded into one tenant's D1 shard (inside SQLite, as scale.mjs does),
// then `POST …/exports` and poll to `completed`.
// - Timed: rows/s of the writing step (rows over the time from `writing` to `verifying`, as the
//   poll sees the states) and the whole job's time with its read-back.
// - Measured: the Worker's own memory, its isolate's live V8 heap through the inspector, after a
//   full collection, every 200 ms. An isolate busy streaming gives the inspector no turn, so this
//   run sets ARCHIVE_SAMPLE_PAUSE_ROWS: the job pauses for a moment every 100,000 rows of a file
//   (src/archives/sampling.ts), mid-stream, and the samples fall there too. The target: the
//   largest sample flat (±20 %) between the smaller and the larger tenant. The process's resident
//   set is printed beside it; locally it holds D1's and R2's storage too.
// Standalone: `node scripts/bench/export.mjs` (BENCH_EXPORT_SIZES=100000,1000000 to change sizes,
// BENCH_EXPORT_PROFILE=1 to print every sample).
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startWorkerd } from "../lib/workerd.mjs";

const SIZES = (process.env.BENCH_EXPORT_SIZES ?? "100000,1000000").split(",").map(Number);
const TARGET_MEMORY_SPREAD = 0.2;
// The measured run's archive job pauses for a moment (src/archives/sampling.ts) every this many
// rows of a file while writing and reading back, so the sampler can read the heap mid-stream; the
// timed run has no pauses.
const SAMPLE_EVERY_ROWS = Number(process.env.BENCH_EXPORT_SAMPLE_ROWS ?? 100_000);
const CHUNK = 50_000;

const kib = (status, field) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);

/** The workerd process Miniflare started for this platform (a child of this process). */
function workerdPid() {
  const out = execFileSync("ps", ["--ppid", String(process.pid), "-o", "pid=,comm="], { encoding: "utf8" });
  const line = out.split("\n").find((l) => /workerd/.test(l));
  if (!line) throw new Error("no workerd child process");
  return Number(line.trim().split(/\s+/)[0]);
}

const memory = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  return { rssKiB: kib(status, "VmRSS"), peakKiB: kib(status, "VmHWM") };
};
const resetPeak = (pid) => writeFileSync(`/proc/${pid}/clear_refs`, "5");

/**
 * The V8 heap of one of the process's isolates, through its inspector (the Worker's own is
 * `core:user:<name>`; D1 and R2 run as isolates of their own beside it locally): `sample()` reads
 * its used size, `peak` is the largest read.
 */
async function heapOf(inspectorPort, target) {
  const ws = new WebSocket(`ws://127.0.0.1:${inspectorPort}/${target}`);
  await new Promise((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  let id = 0;
  const pending = new Map();
  ws.onmessage = (message) => {
    const data = JSON.parse(message.data);
    pending.get(data.id)?.(data.result);
    pending.delete(data.id);
  };
  const command = (method) =>
    new Promise((resolve) => {
      id += 1;
      pending.set(id, resolve);
      ws.send(JSON.stringify({ id, method }));
    });
  await command("HeapProfiler.enable");
  const heap = {
    peak: 0,
    samples: 0,
    series: [],
    /**
     * The isolate's live heap now: a full collection first (the inspector runs it when the isolate
     * next takes a task, so `wake` sends it requests meanwhile), then the used size.
     */
    async sample(wake) {
      // Both commands go at once, so the inspector runs them in one turn: the heap is read right
      // after the collection, before the job allocates anything more.
      const collected = command("HeapProfiler.collectGarbage");
      const read = command("Runtime.getHeapUsage");
      let waiting = true;
      const waking = (async () => {
        while (waiting) {
          await wake().catch(() => undefined);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const [, { usedSize }] = await Promise.all([collected, read]);
      waiting = false;
      await waking;
      heap.peak = Math.max(heap.peak, usedSize);
      heap.samples++;
      heap.series.push([Math.round(performance.now()), usedSize]);
      return usedSize;
    },
    close: () => ws.close(),
  };
  return heap;
}

/**
 * What the job holds while it stands still: the samples fall in runs, one run per moment the
 * isolate gave the inspector turns (a sampling pause, the end of a step), and within a run nothing
 * of the job runs. A run's first sample swings by tens of MiB from one moment to the next in both
 * sizes (what its collection could not free yet, or what was in flight at that instant); its
 * lowest is what the job holds there. The largest of those over the job, in bytes.
 */
function heldMidStream(series) {
  let held = 0;
  let run = [];
  const close = () => {
    if (run.length > 1) held = Math.max(held, Math.min(...run));
    run = [];
  };
  let last = -Infinity;
  for (const [t, bytes] of series) {
    if (t - last > 400) close();
    run.push(bytes);
    last = t;
  }
  close();
  return held;
}

async function seedEntries(db, tenantId, count) {
  for (let from = 1; from <= count; from += CHUNK) {
    const to = Math.min(count, from + CHUNK - 1);
    await db
      .prepare(
        `WITH RECURSIVE n(i) AS (SELECT ?1 UNION ALL SELECT i + 1 FROM n WHERE i < ?2)
         INSERT INTO entries (tenant_id, id, data, tags, version, size_bytes, created_at, updated_at)
         SELECT ?3, 'ent_' || printf('%026d', i), '{"i":' || i || ',"title":"entry number ' || i || '"}', '["bench"]', 1,
                length('{"i":' || i || ',"title":"entry number ' || i || '"}'), ?4, ?4 FROM n`,
      )
      .bind(from, to, tenantId, Date.now())
      .run();
  }
}

/**
 * Runs the export bench on its own platform (the archives bucket on disk); returns one result per
 * size and whether the memory target held.
 */
export async function runExportBench({ port = 8799, log = (line) => process.stdout.write(`${line}\n`) } = {}) {
  const results = [];
  for (const size of SIZES) {
    // Twice, each on a fresh platform: timed without the sampling pauses, measured with them.
    const timed = await exportOnce(size, port, log, false);
    const measured = await exportOnce(size, port, log, true);
    results.push({
      ...measured,
      writingMs: timed.writingMs,
      totalMs: timed.totalMs,
      rowsPerSecond: timed.rowsPerSecond,
    });
  }
  // The Worker's own memory (its isolate's live heap), not the process's: locally workerd also
  // holds D1's and R2's storage, which a deployed Worker does not.
  const heaps = results.map((r) => r.heapHeldMiB);
  const spread = Math.max(...heaps) / Math.min(...heaps) - 1;
  return { results, spread, flat: spread <= TARGET_MEMORY_SPREAD };
}

/** One size on a platform of its own, so each starts from the same process state. */
async function exportOnce(size, port, log, sampled) {
  const dir = mkdtempSync(join(tmpdir(), "bench-export-"));
  const inspectorPort = port + 100;
  const bindings = {
    ...(sampled ? { ARCHIVE_SAMPLE_PAUSE_ROWS: String(SAMPLE_EVERY_ROWS) } : {}),
    ...(process.env.BENCH_EXPORT_PAGE_ROWS ? { ARCHIVE_PAGE_ROWS: process.env.BENCH_EXPORT_PAGE_ROWS } : {}),
  };
  const platform = await startWorkerd({
    port,
    outDir: ".wrangler/bench/dist-export",
    persistTo: dir,
    inspectorPort,
    bindings,
  });
  try {
    const worker = await heapOf(inspectorPort, "core:user:edge-tenancy");
    const wake = () => fetch(`${platform.baseUrl}/ping`).then((res) => res.arrayBuffer());
    const pid = workerdPid();
    const api = async (method, path, body) => {
      const res = await fetch(`${platform.baseUrl}${path}`, {
        method,
        headers: { authorization: `Bearer ${platform.adminKey}`, "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
      return JSON.parse(text);
    };
    const shard = await platform.d1("SHARD_D1_0");
    {
      const tenant = await api("POST", "/v1/tenants", {
        name: "Export bench",
        slug: `export-bench-${size}-${Date.now().toString(36)}`,
        tier: "STANDARD",
        shard_id: "d1-shared-0",
      });
      const seedStart = performance.now();
      await seedEntries(shard, tenant.id, size);
      log(
        `export: ${size.toLocaleString("en")} entries seeded in ${((performance.now() - seedStart) / 1000).toFixed(1)} s`,
      );

      const before = memory(pid);
      const heapBefore = await worker.sample(wake);
      worker.peak = 0;
      worker.samples = 0;
      resetPeak(pid);
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          await worker.sample(wake);
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
      })();
      const started = performance.now();
      const job = await api("POST", `/v1/tenants/${tenant.id}/exports`);
      let writingAt = null;
      let verifyingAt = null;
      let view = job;
      while (view.state !== "completed") {
        if (view.state === "failed") throw new Error(`the export failed: ${view.error}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
        view = await api("GET", `/v1/tenants/${tenant.id}/exports/${job.id}`);
        const now = performance.now();
        if (view.state === "writing" && writingAt === null) writingAt = now;
        if ((view.state === "verifying" || view.state === "completed") && verifyingAt === null) verifyingAt = now;
      }
      const doneAt = performance.now();
      sampling = false;
      await sampler;
      const after = memory(pid);
      // What the Worker still holds once the export is over: only what it retained.
      const heapAfter = await worker.sample(wake);
      const writingMs = verifyingAt - (writingAt ?? started);
      const result = {
        entries: size,
        rows: view.rows,
        bytes: view.bytes,
        writingMs,
        totalMs: doneAt - started,
        rowsPerSecond: view.rows / (writingMs / 1000),
        rssBeforeMiB: before.rssKiB / 1024,
        peakMiB: after.peakKiB / 1024,
        addedMiB: (after.peakKiB - before.rssKiB) / 1024,
        heapBeforeMiB: heapBefore / 1048576,
        heapPeakMiB: worker.peak / 1048576,
        heapHeldMiB: heldMidStream(worker.series) / 1048576,
        heapAfterMiB: heapAfter / 1048576,
        heapSamples: worker.samples,
      };
      log(
        `export (${sampled ? "measured, with sampling pauses" : "timed"}): ${size.toLocaleString("en")} entries → ${view.rows.toLocaleString("en")} rows, ${(view.bytes / 1048576).toFixed(1)} MiB ZIP; ` +
          `writing ${(writingMs / 1000).toFixed(1)} s (${Math.round(result.rowsPerSecond).toLocaleString("en")} rows/s), ` +
          `with read-back ${(result.totalMs / 1000).toFixed(1)} s; workerd resident ${result.rssBeforeMiB.toFixed(0)} MiB before, ` +
          `peak ${result.peakMiB.toFixed(0)} MiB: +${result.addedMiB.toFixed(1)} MiB during the export ` +
          `; the Worker's live V8 heap ${result.heapBeforeMiB.toFixed(1)} MiB before, at most ${result.heapPeakMiB.toFixed(1)} MiB, ` +
          `held mid-stream at most ${result.heapHeldMiB.toFixed(1)} MiB ` +
          `during it (${result.heapSamples} samples after a full GC), ${result.heapAfterMiB.toFixed(1)} MiB after`,
      );
      if (process.env.BENCH_EXPORT_PROFILE) {
        const t0 = Math.round(started);
        log(
          `live heap (s: MiB): ${worker.series.map(([t, bytes]) => `${((t - t0) / 1000).toFixed(1)}: ${Math.round(bytes / 1048576)}`).join(", ")}`,
        );
      }
      worker.close();
      return result;
    }
  } finally {
    await platform.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { results, spread, flat } = await runExportBench();
  process.stdout.write(
    `${JSON.stringify({ results, spread }, null, 2)}\nmemory during the export ${flat ? "flat" : "NOT FLAT"}: ` +
      `largest/smallest − 1 = ${(spread * 100).toFixed(0)} % (target ≤ ${TARGET_MEMORY_SPREAD * 100} %)\n`,
  );
}
