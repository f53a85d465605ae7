#!/usr/bin/env node
// Checks an audit trail exported as NDJSON (GET /v1/tenants/:id/audit/export) with Node alone: no
// Worker, no database. Every record's seq follows the last without a gap, links to the previous
// record's hash and hashes to its own `hash`; every checkpoint names the hash the chain has at its
// seq and, given the key, carries a valid signature. Prints the first break and exits 1, or "ok".
//
//   node scripts/verify-audit.mjs FILE [--key KEY]     (or AUDIT_CHECKPOINT_KEY=KEY in the environment)
//
// hash = SHA-256(prev_hash ‖ RFC 8785 JSON of the record without prev_hash and hash), hex;
// signature = HMAC-SHA256(key, RFC 8785 JSON of {tenant, seq, hash, time}), hex.
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import canonicalize from "canonicalize";

const GENESIS = "0".repeat(64);

function usage(message) {
  console.error(`${message}\nusage: node scripts/verify-audit.mjs FILE [--key KEY]`);
  process.exit(2);
}

const args = process.argv.slice(2);
const keyAt = args.indexOf("--key");
const key = keyAt >= 0 ? args[keyAt + 1] : process.env.AUDIT_CHECKPOINT_KEY;
if (keyAt >= 0 && !key) usage("--key needs a value");
const file = args.filter((_, i) => i !== keyAt && i !== keyAt + 1)[0];
if (!file) usage("no file given");

const hashOf = (prev, record) => {
  const { prev_hash: _, hash: __, ...event } = record;
  return createHash("sha256").update(prev).update(canonicalize(event)).digest("hex");
};

const signed = (checkpoint) => {
  const { signature, ...claim } = checkpoint;
  const expected = createHmac("sha256", key).update(canonicalize(claim)).digest();
  const given = Buffer.from(String(signature), "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
};

let line = 0;
let records = 0;
let pending = 0;
let checkpoints = 0;
/** The last linked record's seq and hash: the genesis, or the checkpoint the trail starts from. */
let head = null;
/** Checkpoints seen ahead of the records they sign, by seq. */
const ahead = new Map();

function fail(seq, reason) {
  console.log(`broken at seq ${seq}: ${reason} (line ${line})`);
  process.exit(1);
}

function checkCheckpoint(checkpoint) {
  if (key && !signed(checkpoint))
    fail(checkpoint.seq, `the checkpoint at seq ${checkpoint.seq} is not signed with this key`);
  checkpoints++;
}

function onCheckpoint(checkpoint) {
  if (head === null && records === 0) {
    // A trail that retention cut starts at a checkpoint: the next record links to its hash.
    checkCheckpoint(checkpoint);
    head = { seq: checkpoint.seq, hash: checkpoint.hash };
    return;
  }
  if (head && checkpoint.seq <= head.seq) {
    if (checkpoint.seq === head.seq && checkpoint.hash !== head.hash) {
      fail(checkpoint.seq, `the chain's hash at seq ${checkpoint.seq} is not the one its checkpoint signed`);
    }
    checkCheckpoint(checkpoint);
    return;
  }
  ahead.set(checkpoint.seq, checkpoint);
}

function onRecord(record) {
  head ??= { seq: 0, hash: GENESIS };
  const expected = head.seq + pending + 1;
  if (record.seq !== expected) {
    fail(
      record.seq,
      record.seq > expected
        ? `seq ${record.seq} follows ${expected - 1}: records ${expected}…${record.seq - 1} are missing`
        : `seq ${record.seq} follows ${expected - 1}: a record is repeated or out of order`,
    );
  }
  if (record.hash === null) {
    pending++;
    return;
  }
  if (pending > 0) fail(record.seq, "a linked record follows one not linked yet");
  if (record.prev_hash !== head.hash) fail(record.seq, "prev_hash is not the previous record's hash");
  if (hashOf(head.hash, record) !== record.hash) fail(record.seq, "hash does not match the record's content");
  head = { seq: record.seq, hash: record.hash };
  records++;
  const checkpoint = ahead.get(record.seq);
  if (checkpoint) {
    ahead.delete(record.seq);
    onCheckpoint(checkpoint);
  }
}

const input = createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY });
for await (const text of input) {
  line++;
  if (text.trim() === "") continue;
  let value;
  try {
    value = JSON.parse(text);
  } catch {
    fail(head ? head.seq + 1 : 1, "the line is not JSON");
  }
  if (value && typeof value === "object" && "checkpoint" in value) onCheckpoint(value.checkpoint);
  else onRecord(value);
}
line = "end";
const [beyond] = [...ahead.keys()].sort((a, b) => a - b);
if (beyond !== undefined) fail(beyond, `a checkpoint signed seq ${beyond}, past the last record`);
console.log(
  `ok: ${records} records linked through seq ${head?.seq ?? 0}${pending ? `, ${pending} not linked yet` : ""}; ` +
    `${checkpoints} checkpoints ${key ? "signed and matching" : "matching (no key given: signatures not checked)"}`,
);
