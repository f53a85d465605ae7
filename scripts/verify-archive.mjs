#!/usr/bin/env node
// Checks a tenant archive (an export's ZIP) offline, with Node and this repository's
// @zip.js/zip.js: the manifest against its detached checksum, the format version, and every
// file's CRC-32, SHA-256, row and byte counts against the manifest. Streams each file: memory
// holds a chunk, whatever the archive's size.
//
//   node scripts/verify-archive.mjs export.zip
//
// Prints "ok: …" and exits 0, or prints what is wrong and exits 1.
import { createHash } from "node:crypto";
import { openAsBlob } from "node:fs";
import { BlobReader, configure, TextWriter, ZipReader } from "@zip.js/zip.js";

configure({ useWebWorkers: false });

const FORMAT_NAME = "edge-tenancy-archive";
const KNOWN_VERSION = 1;

function fail(message) {
  console.error(`invalid: ${message}`);
  process.exit(1);
}

const path = process.argv[2];
if (!path) {
  console.error("usage: node scripts/verify-archive.mjs ARCHIVE.zip");
  process.exit(2);
}

const zip = new ZipReader(new BlobReader(await openAsBlob(path)));
const entries = await zip.getEntries().catch((error) => fail(`not a readable ZIP: ${error.message}`));
const entry = (name) => entries.find((e) => e.filename === name && !e.directory) ?? fail(`no ${name}`);

const manifestText = await entry("manifest.json").getData(new TextWriter(), { checkCrc32: true });
const digest = createHash("sha256").update(manifestText).digest("hex");
const detached = await entry("manifest.json.sha256").getData(new TextWriter(), { checkCrc32: true });
if (detached !== `${digest}  manifest.json\n`) fail("manifest.json does not match manifest.json.sha256");
const manifest = JSON.parse(manifestText);
if (manifest.format !== FORMAT_NAME) fail(`not an ${FORMAT_NAME}`);
if (!(manifest.format_version <= KNOWN_VERSION))
  fail(`format version ${manifest.format_version} is newer than this script`);

let rows = 0;
for (const file of manifest.files) {
  const { readable, writable } = new TransformStream();
  const extracted = entry(file.name).getData(writable, { checkCrc32: true });
  // Whichever side sees a corrupt file first (the inflater, the CRC-32 check) says so once.
  extracted.catch(() => undefined);
  const hash = createHash("sha256");
  let bytes = 0;
  let lines = 0;
  try {
    for await (const chunk of readable) {
      hash.update(chunk);
      bytes += chunk.byteLength;
      for (const byte of chunk) if (byte === 0x0a) lines++;
    }
    await extracted;
  } catch (error) {
    fail(`${file.name} is corrupt: ${error.message}`);
  }
  if (lines !== file.rows) fail(`${file.name} holds ${lines} rows, the manifest says ${file.rows}`);
  if (bytes !== file.bytes) fail(`${file.name} holds ${bytes} bytes, the manifest says ${file.bytes}`);
  if (hash.digest("hex") !== file.sha256) fail(`${file.name} does not match its SHA-256`);
  rows += lines;
}
await zip.close();
console.log(
  `ok: ${manifest.kind} ${manifest.archive_id} of tenant ${manifest.tenant.id} (${manifest.tenant.slug}), format ${manifest.format_version}, ${manifest.files.length} files, ${rows} rows, manifest sha256 ${digest}`,
);
