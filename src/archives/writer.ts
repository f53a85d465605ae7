import { createHash } from "node:crypto";
import { configure, TextReader, ZipWriter } from "@zip.js/zip.js";
import { auditCheckpointSet, auditTrail } from "../audit/dataset";
import { type CanonicalRow, canonicalJson } from "../datasets/canonical";
import type { Dataset } from "../datasets/dataset";
import { feedHead } from "../events/dataset";
import type { Shard } from "../shards/table";
import type { Tenant } from "../tenants/table";
import {
  type ArchiveKind,
  archiveFileName,
  checksumLine,
  datasetFile,
  FORMAT_NAME,
  FORMAT_VERSION,
  MANIFEST_CHECKSUM_FILE,
  MANIFEST_FILE,
  type Manifest,
  type ManifestFile,
} from "./format";
import { MultipartSink } from "./multipart";
import { archivedDatasets, datasetPages, derivedDatasets, type TenantSources } from "./rows";
import { samplePause } from "./sampling";

// Workers have no Web Workers; zip.js compresses in place with the runtime's CompressionStream.
configure({ useWebWorkers: false });

/** Deflate level of the NDJSON files: the default trade of CPU for size. */
const LEVEL = 6;

export type WrittenArchive = {
  key: string;
  /** Bytes of the ZIP. */
  bytes: number;
  /** Rows over every file. */
  rows: number;
  manifest: Manifest;
  manifestSha256: string;
};

export type ArchiveRequest = {
  kind: ArchiveKind;
  archiveId: string;
  key: string;
  tenant: Pick<Tenant, "id" | "slug" | "tier" | "dataRegion">;
  shard: Pick<Shard, "id" | "engine">;
  /** Told the rows written so far after every page; a throw stops the archive (aborted, nothing stored). */
  progress?: (rows: number) => void | Promise<void>;
  now?: number;
};

/** One dataset's rows as NDJSON bytes, pulled a page at a time (so the ZIP's pace is the reads' pace). */
function ndjson(
  pages: AsyncGenerator<CanonicalRow[]>,
  file: ManifestFile,
  seen: (rows: CanonicalRow[]) => Promise<void>,
  keep: (row: CanonicalRow) => boolean = () => true,
) {
  const hash = createHash("sha256");
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await pages.next();
      if (next.done) {
        file.sha256 = hash.digest("hex");
        controller.close();
        return;
      }
      const rows = next.value.filter(keep);
      const bytes = encoder.encode(rows.map((row) => `${canonicalJson(row)}\n`).join(""));
      hash.update(bytes);
      file.rows += rows.length;
      file.bytes += bytes.byteLength;
      await seen(rows);
      controller.enqueue(bytes);
      await samplePause(file.rows, rows.length);
    },
    async cancel() {
      await pages.return(undefined);
    },
  });
}

/**
 * Streams the tenant's every dataset into a ZIP under `key` in the archives bucket, in the
 * archive format (./format.ts), by a multipart upload: memory holds one page of rows and one
 * part, whatever the tenant's size. The rows are read while the tenant may go on writing, each
 * dataset in key order, so the archive is the tenant as of the feed positions its manifest
 * names. On any failure the upload is aborted: no object appears under the key unless whole.
 */
export async function writeArchive(sources: TenantSources, request: ArchiveRequest): Promise<WrittenArchive> {
  const generatedAt = new Date(request.now ?? Date.now());
  const sink = await MultipartSink.open(sources.env.ARCHIVES, request.key, {
    // What R2 answers a presigned GET with (the Worker's own route sets its headers itself).
    httpMetadata: {
      contentType: "application/zip",
      contentDisposition: `attachment; filename="${archiveFileName(request.tenant.slug, request.kind, generatedAt.getTime())}"`,
    },
    customMetadata: { tenant_id: request.tenant.id, archive_id: request.archiveId, kind: request.kind },
  });
  try {
    const zip = new ZipWriter(sink.writable(), {
      level: LEVEL,
      // Sizes are unknown until a file is written; Zip64 throughout, so no file or total is capped at 4 GiB.
      zip64: true,
      keepOrder: true,
      lastModDate: generatedAt,
    });
    const beforeSeq = await feedHead(sources.store, sources.tenantId);
    const files: ManifestFile[] = [];
    let rows = 0;
    let head: Manifest["audit_chain_head"] = null;
    // The trail is read before its checkpoints: one signed meanwhile would name a record the
    // archive does not hold (and fail its verification), so only those up to the last record read go in.
    let lastAuditSeq = 0;
    for (const dataset of archivedDatasets()) {
      const file: ManifestFile = {
        name: datasetFile(dataset.name),
        dataset: dataset.name,
        home: dataset.home,
        rows: 0,
        bytes: 0,
        sha256: "",
      };
      const seen = async (page: CanonicalRow[]) => {
        rows += page.length;
        if (dataset === auditTrail) {
          head = chainHeadOf(page) ?? head;
          lastAuditSeq = Number(page.at(-1)?.seq ?? lastAuditSeq);
        }
        await request.progress?.(rows);
      };
      const keep = dataset === auditCheckpointSet ? (row: CanonicalRow) => Number(row.seq) <= lastAuditSeq : undefined;
      await zip.add(file.name, ndjson(datasetPages(sources, dataset as Dataset), file, seen, keep));
      files.push(file);
    }
    const manifest: Manifest = {
      format: FORMAT_NAME,
      format_version: FORMAT_VERSION,
      kind: request.kind,
      archive_id: request.archiveId,
      tenant: {
        id: request.tenant.id,
        slug: request.tenant.slug,
        tier: request.tenant.tier,
        region: request.tenant.dataRegion,
      },
      generated_at: generatedAt.toISOString(),
      source: { shard_id: request.shard.id, engine: request.shard.engine },
      feed: { before_seq: beforeSeq, after_seq: await feedHead(sources.store, sources.tenantId) },
      audit_chain_head: head,
      derived: derivedDatasets(),
      files,
    };
    const text = `${JSON.stringify(manifest, null, 2)}\n`;
    const manifestSha256 = createHash("sha256").update(text).digest("hex");
    await zip.add(MANIFEST_FILE, new TextReader(text));
    await zip.add(MANIFEST_CHECKSUM_FILE, new TextReader(checksumLine(manifestSha256)));
    await zip.close();
    const object = await sink.complete();
    return { key: request.key, bytes: object.size, rows, manifest, manifestSha256 };
  } catch (error) {
    await sink.abort().catch(() => undefined);
    throw error;
  }
}

/** The newest linked record of a page of the audit trail's rows. */
function chainHeadOf(page: CanonicalRow[]): Manifest["audit_chain_head"] {
  for (let i = page.length - 1; i >= 0; i--) {
    const row = page[i] as CanonicalRow;
    if (typeof row.hash === "string") return { seq: Number(row.seq), hash: row.hash };
  }
  return null;
}
