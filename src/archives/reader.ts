import { createHash } from "node:crypto";
import { crc32 } from "node:zlib";
import { configure, type Entry, type FileEntry, Reader, TextWriter, ZipReader } from "@zip.js/zip.js";
import type { CanonicalRow } from "../datasets/canonical";
import {
  checksumLine,
  FORMAT_NAME,
  FORMAT_VERSION,
  MANIFEST_CHECKSUM_FILE,
  MANIFEST_FILE,
  Manifest,
  type ManifestFile,
} from "./format";
import { samplePause } from "./sampling";

configure({ useWebWorkers: false });

/** An archive that is not what its manifest says, or not an archive of this format at all. */
export class ArchiveInvalid extends Error {
  override name = "ArchiveInvalid";
}

/**
 * The most compressed bytes handed to the inflater at once. Its output for one input chunk comes
 * out whole, and deflate shrinks an NDJSON of similar rows 10-20 times (up to 1,000 times for
 * pathological input), so a body chunk as R2 delivers it (megabytes) would inflate to tens of MiB
 * at a time: small slices keep what is in flight small, whatever the archive's size.
 */
const INFLATE_SLICE_BYTES = 16 * 1024;

/**
 * The stream `open` gives, opened at the first pull, in slices of at most `bytes`, each read only
 * when the consumer asks for it.
 */
function sliced(open: () => Promise<ReadableStream<Uint8Array>>, bytes: number): ReadableStream<Uint8Array> {
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  let chunk: Uint8Array | null = null;
  let at = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        reader ??= (await open()).getReader();
        while (chunk === null || at >= chunk.byteLength) {
          const next = await reader.read();
          if (next.done) {
            controller.close();
            return;
          }
          chunk = next.value;
          at = 0;
        }
        controller.enqueue(chunk.subarray(at, at + bytes));
        at += bytes;
      },
      cancel: async (reason) => {
        await reader?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/**
 * zip.js's random access over an R2 object: each read is a ranged GET, and an entry's data is one
 * ranged GET streamed in small slices, so reading an archive back holds no more of it than a few
 * slices in flight.
 */
class R2RangeReader extends Reader<null> {
  constructor(
    private readonly bucket: R2Bucket,
    private readonly key: string,
    size: number,
  ) {
    super(null);
    this.size = size;
  }

  private async range(offset: number, length: number): Promise<R2ObjectBody> {
    const object = await this.bucket.get(this.key, { range: { offset, length } });
    if (!object) throw new ArchiveInvalid(`The archive ${this.key} is gone`);
    return object;
  }

  override async readUint8Array(index: number, length: number): Promise<Uint8Array> {
    const available = Math.max(0, Math.min(length, this.size - index));
    if (available === 0) return new Uint8Array(0);
    return new Uint8Array(await (await this.range(index, available)).arrayBuffer());
  }

  override createReadable(options: { offset?: number; size?: number } = {}): ReadableStream<Uint8Array> {
    const offset = options.offset ?? 0;
    const length = options.size ?? this.size - offset;
    return sliced(async () => (await this.range(offset, length)).body, INFLATE_SLICE_BYTES);
  }
}

/** An archive in the bucket, opened: its manifest checked against its detached checksum. */
export type OpenArchive = {
  manifest: Manifest;
  manifestSha256: string;
  /** The archive's ZIP size. */
  bytes: number;
  /** A file's rows, streamed; see `readRows`. */
  rows(file: ManifestFile): AsyncGenerator<CanonicalRow>;
  close(): Promise<void>;
};

const fileEntry = (entries: Entry[], name: string): FileEntry => {
  const entry = entries.find((e) => e.filename === name);
  if (!entry || entry.directory) throw new ArchiveInvalid(`The archive has no ${name}`);
  return entry;
};

async function text(entry: FileEntry): Promise<string> {
  try {
    return await entry.getData(new TextWriter(), { checkCrc32: true });
  } catch (error) {
    throw new ArchiveInvalid(`${entry.filename} is corrupt: ${String(error)}`);
  }
}

function parseManifest(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ArchiveInvalid("The manifest is not JSON");
  }
}

/**
 * Opens the archive under `key`: reads its central directory and manifest (ranged GETs), checks
 * the manifest's detached checksum (and, when given, the one recorded where the archive was
 * made), its format and version. Throws ArchiveInvalid when any of it is wrong.
 */
export async function openArchive(bucket: R2Bucket, key: string, recordedSha256?: string | null): Promise<OpenArchive> {
  const head = await bucket.head(key);
  if (!head) throw new ArchiveInvalid(`The archive ${key} is gone`);
  const zip = new ZipReader(new R2RangeReader(bucket, key, head.size));
  try {
    const entries = await zip.getEntries().catch((error: unknown) => {
      throw new ArchiveInvalid(`Not a readable ZIP: ${String(error)}`);
    });
    const manifestText = await text(fileEntry(entries, MANIFEST_FILE));
    const manifestSha256 = createHash("sha256").update(manifestText).digest("hex");
    const detached = await text(fileEntry(entries, MANIFEST_CHECKSUM_FILE));
    if (detached !== checksumLine(manifestSha256)) {
      throw new ArchiveInvalid("The manifest does not match its detached checksum");
    }
    if (recordedSha256 && recordedSha256 !== manifestSha256) {
      throw new ArchiveInvalid("The manifest is not the one recorded when the archive was made");
    }
    const parsed = Manifest.safeParse(parseManifest(manifestText));
    if (!parsed.success) throw new ArchiveInvalid(`The manifest is malformed: ${parsed.error.issues[0]?.message}`);
    const manifest = parsed.data;
    if (manifest.format !== FORMAT_NAME || manifest.format_version > FORMAT_VERSION) {
      throw new ArchiveInvalid(`Format version ${manifest.format_version} is newer than this reader's`);
    }
    return {
      manifest,
      manifestSha256,
      bytes: head.size,
      rows: (file) => readRows(fileEntry(entries, file.name), file),
      close: () => zip.close(),
    };
  } catch (error) {
    await zip.close().catch(() => undefined);
    throw error;
  }
}

/**
 * The entry's stored bytes, inflated. zip.js hands them over as stored (`passThrough`) and the
 * runtime's DecompressionStream inflates them here, in one pipe that the reader below pulls: its
 * own inflating pump reads its input ahead of its consumer, so a large file's inflated bytes
 * would pile up in memory while the rows are handled (scripts/bench/export.mjs measures it). The
 * reader checks the CRC-32 the ZIP records for the entry itself, with the runtime's zlib.
 */
function inflated(stored: ReadableStream<Uint8Array>, entry: FileEntry, file: ManifestFile) {
  if (entry.compressionMethod === 0) return stored;
  if (entry.compressionMethod !== 8) {
    throw new ArchiveInvalid(`${file.name} is compressed with method ${entry.compressionMethod}, not deflate`);
  }
  return stored.pipeThrough(new DecompressionStream("deflate-raw"));
}

/**
 * The rows of one file, decompressed and parsed as they stream. The whole file is checked as it
 * goes (its CRC-32, its SHA-256, its row and byte counts against the manifest) and the last row
 * is only given once all of that held, so a consumer that reads to the end has read exactly the
 * file the manifest names, or got an ArchiveInvalid.
 */
async function* readRows(entry: FileEntry, file: ManifestFile): AsyncGenerator<CanonicalRow> {
  const raw = new TransformStream<Uint8Array, Uint8Array>();
  const extracted = entry.getData(raw.writable, { passThrough: true }).catch((error: unknown) => {
    throw new ArchiveInvalid(`${file.name} is corrupt: ${String(error)}`);
  });
  // Surfaced where it is awaited below; never an unhandled rejection meanwhile.
  extracted.catch(() => undefined);
  const readable = inflated(raw.readable, entry, file);
  const hash = createHash("sha256");
  const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
  let crc = 0;
  let bytes = 0;
  let rows = 0;
  let rest = "";
  let held: CanonicalRow | undefined;
  const reader = readable.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      hash.update(value);
      crc = crc32(value, crc);
      bytes += value.byteLength;
      const lines = (rest + decoder.decode(value, { stream: true })).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        const row = parseLine(line, file, rows + 1);
        rows++;
        if (held !== undefined) yield held;
        held = row;
      }
      await samplePause(rows, lines.length);
    }
    rest += decoder.decode();
    if (rest !== "") throw new ArchiveInvalid(`${file.name} does not end with a newline`);
    await extracted;
  } catch (error) {
    await reader.cancel().catch(() => undefined);
    if (error instanceof ArchiveInvalid) throw error;
    throw new ArchiveInvalid(`${file.name} cannot be read: ${String(error)}`);
  }
  if (entry.crc32 === undefined || crc >>> 0 !== entry.crc32 >>> 0) {
    throw new ArchiveInvalid(`${file.name} does not match its CRC-32`);
  }
  if (rows !== file.rows) throw new ArchiveInvalid(`${file.name} holds ${rows} rows, its manifest says ${file.rows}`);
  if (bytes !== file.bytes)
    throw new ArchiveInvalid(`${file.name} holds ${bytes} bytes, its manifest says ${file.bytes}`);
  if (hash.digest("hex") !== file.sha256) throw new ArchiveInvalid(`${file.name} does not match its SHA-256`);
  if (held !== undefined) yield held;
}

function parseLine(line: string, file: ManifestFile, number: number): CanonicalRow {
  try {
    const row: unknown = JSON.parse(line);
    if (typeof row === "object" && row !== null && !Array.isArray(row)) return row as CanonicalRow;
  } catch {
    // Reported below, with where.
  }
  throw new ArchiveInvalid(`Line ${number} of ${file.name} is not a JSON object`);
}
