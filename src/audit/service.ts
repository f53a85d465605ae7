import { AppError, notFound } from "../http/problems";
import { auditCursor } from "./api";
import { type Break, ChainVerifier, type CheckpointEntry } from "./chain";
import { checkpointEntry } from "./checkpoints";
import type { TrailFilter, TrailStatements } from "./engines/trail";
import { type AuditRecord, auditRecord, GENESIS_HASH } from "./record";

/** Records per page of a walk (verification, export). */
const WALK_PAGE = 500;

/** A page of the trail, newest first, matching the filter. */
export async function searchTrail(
  trail: TrailStatements,
  tenantId: string | null,
  filter: TrailFilter,
  before: number | null,
  limit: number,
) {
  const rows = await trail.search(tenantId, filter, before, limit + 1);
  const data = rows.slice(0, limit).map((row) => auditRecord(tenantId, row));
  const last = data.at(-1);
  return { data, next_cursor: rows.length > limit && last ? auditCursor(tenantId, last.seq) : null };
}

export type Verification = {
  ok: boolean;
  start: { seq: number; from: "genesis" | "checkpoint" };
  checked: number;
  pending: number;
  checkpoints_checked: number;
  head: { seq: number; hash: string };
  broken: Break | null;
};

/** Where verification starts: genesis, the checkpoint retention left before the first record, or the one asked for. */
async function startOf(
  trail: TrailStatements,
  tenantId: string | null,
  checkpoints: CheckpointEntry[],
  from: "start" | number,
): Promise<{ seq: number; hash: string; from: "genesis" | "checkpoint" } | Break> {
  if (from !== "start") {
    const checkpoint = checkpoints.find((c) => c.seq === from);
    if (!checkpoint) throw notFound("Checkpoint");
    return { seq: checkpoint.seq, hash: checkpoint.hash, from: "checkpoint" };
  }
  const first = (await trail.walk(tenantId, 0, 1))[0];
  // Nothing retained but checkpoints: the newest is where the next record will link.
  const firstSeq = first?.seq ?? (checkpoints.at(-1)?.seq ?? 0) + 1;
  if (firstSeq === 1) return { seq: 0, hash: GENESIS_HASH, from: "genesis" };
  const checkpoint = checkpoints.find((c) => c.seq === firstSeq - 1);
  if (!checkpoint) {
    return { seq: firstSeq, reason: `the trail starts at seq ${firstSeq} and no checkpoint signs seq ${firstSeq - 1}` };
  }
  return { seq: checkpoint.seq, hash: checkpoint.hash, from: "checkpoint" };
}

/**
 * Recomputes the trail from its start (or from a checkpoint) to its end, or to `through`: every
 * seq, link and hash, and every checkpoint's signature and hash. `ok`, or the first broken seq and why.
 */
export async function verifyTrail(
  trail: TrailStatements,
  tenantId: string | null,
  key: string,
  from: "start" | number = "start",
  through = Number.POSITIVE_INFINITY,
): Promise<Verification> {
  const checkpoints = (await trail.checkpoints(tenantId))
    .filter((c) => c.seq <= through)
    .map((c) => checkpointEntry(tenantId, c));
  const start = await startOf(trail, tenantId, checkpoints, from);
  if ("reason" in start) {
    return {
      ok: false,
      start: { seq: start.seq, from: "checkpoint" },
      checked: 0,
      pending: 0,
      checkpoints_checked: 0,
      head: { seq: start.seq - 1, hash: "" },
      broken: start,
    };
  }
  const verifier = new ChainVerifier(key, checkpoints, start);
  let after = start.seq;
  while (!verifier.broken && after < through) {
    const page = (await trail.walk(tenantId, after, WALK_PAGE)).filter((row) => row.seq <= through);
    for (const row of page) if (!verifier.add(auditRecord(tenantId, row))) break;
    if (page.length < WALK_PAGE) break;
    after = (page.at(-1) as { seq: number }).seq;
  }
  const broken = verifier.finish();
  return {
    ok: broken === null,
    start: { seq: start.seq, from: start.from },
    checked: verifier.checked,
    pending: verifier.pending,
    checkpoints_checked: verifier.checkpointsChecked,
    head: verifier.head,
    broken,
  };
}

/** CSV columns of an export, one record per line. */
const CSV_COLUMNS = [
  "id",
  "seq",
  "tenant_id",
  "occurred_at",
  "action",
  "actor_type",
  "actor_id",
  "actor_key_prefix",
  "targets",
  "ip",
  "user_agent",
  "country",
  "request_id",
  "status",
  "prev_hash",
  "hash",
] as const;

/**
 * RFC 4180: quoted when it holds a comma, quote or line break; quotes doubled. Text a spreadsheet
 * would run as a formula (a user agent is whatever the client sent) starts with a `'` instead.
 */
const csvField = (value: unknown) => {
  const raw = value === null || value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  const text = typeof value === "string" && /^[=+\-@\t\r]/.test(raw) ? `'${raw}` : raw;
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
};

const csvLine = (r: AuditRecord) =>
  [
    r.id,
    r.seq,
    r.tenant_id,
    r.occurred_at,
    r.action,
    r.actor.type,
    r.actor.id,
    r.actor.key_prefix,
    r.targets,
    r.context.ip,
    r.context.user_agent,
    r.context.country,
    r.context.request_id,
    r.outcome.status,
    r.prev_hash,
    r.hash,
  ]
    .map(csvField)
    .join(",");

export type ExportFormat = "ndjson" | "csv";

/**
 * The whole trail as a stream, one page read per pull (constant memory whatever its length).
 * NDJSON: a line per record, and a `{"checkpoint": …}` line for each checkpoint where its seq
 * falls, which is what scripts/verify-audit.mjs checks. CSV: a header, then a line per record.
 */
export function exportTrail(
  store: { trail: TrailStatements; close: () => Promise<void> },
  tenantId: string | null,
  format: ExportFormat,
): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let opened: typeof store | null = store;
  let pendingCheckpoints: CheckpointEntry[] = [];
  let after = 0;
  const close = async () => {
    const store = opened;
    opened = null;
    await store?.close();
  };
  const checkpointLines = (upTo: number) => {
    let lines = "";
    while (pendingCheckpoints[0] && pendingCheckpoints[0].seq <= upTo) {
      lines += `${JSON.stringify({ checkpoint: pendingCheckpoints.shift() })}\n`;
    }
    return lines;
  };
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      if (format === "csv") controller.enqueue(encoder.encode(`${CSV_COLUMNS.join(",")}\r\n`));
      else pendingCheckpoints = (await store.trail.checkpoints(tenantId)).map((c) => checkpointEntry(tenantId, c));
    },
    async pull(controller) {
      try {
        if (!opened) return;
        const page = await opened.trail.walk(tenantId, after, WALK_PAGE);
        let text = "";
        for (const row of page) {
          const record = auditRecord(tenantId, row);
          if (format === "csv") text += `${csvLine(record)}\r\n`;
          else text += `${checkpointLines(record.seq - 1)}${JSON.stringify(record)}\n${checkpointLines(record.seq)}`;
          after = record.seq;
        }
        if (page.length < WALK_PAGE) {
          if (format === "ndjson") text += checkpointLines(Number.MAX_SAFE_INTEGER);
          if (text) controller.enqueue(encoder.encode(text));
          await close();
          controller.close();
          return;
        }
        controller.enqueue(encoder.encode(text));
      } catch (error) {
        await close().catch(() => undefined);
        controller.error(error);
      }
    },
    cancel: close,
  });
}

/** A `from` of the verify route: `start` or a checkpoint's seq. */
export const verifyFrom = (from: string): "start" | number => (from === "start" ? "start" : Number(from));

/** The trail has no shard to read (the tenant is not provisioned): nothing to show yet. */
export const noTrail = () => new AppError("shard-unavailable", "The tenant has no shard, so no audit trail yet");
