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
const file = (keyAt < 0 ? args : args.filter((_, i) => i !== keyAt && i !== keyAt + 1))[0];
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
/** The last record's seq and the chain's hash there: the genesis, or the checkpoint the trail starts from. */
let head = null;
/** The trail's name in checkpoint claims: the records' tenant id, or "platform". */
let trail = null;

function fail(seq, reason) {
  console.log(`broken at seq ${seq}: ${reason} (line ${line})`);
  process.exit(1);
}

function sameTrail(name, seq) {
  trail ??= name;
  if (name !== trail) fail(seq, `a line of trail ${name} in an export of trail ${trail}`);
}

// The export writes each checkpoint right after the record at its seq (or first, when retention
// left the trail starting after it), so a checkpoint anywhere else is out of place.
function onCheckpoint(checkpoint) {
  sameTrail(checkpoint.tenant, checkpoint.seq);
  if (key && !signed(checkpoint))
    fail(checkpoint.seq, `the checkpoint at seq ${checkpoint.seq} is not signed with this key`);
  if (head === null) {
    head = { seq: checkpoint.seq, hash: checkpoint.hash };
  } else if (checkpoint.seq !== head.seq) {
    if (checkpoint.seq > head.seq)
      fail(head.seq + 1, `a checkpoint signed seq ${checkpoint.seq}, past the last record`);
    fail(checkpoint.seq, `the checkpoint at seq ${checkpoint.seq} is out of place, after seq ${head.seq}`);
  } else if (checkpoint.hash !== head.hash) {
    fail(checkpoint.seq, `the chain's hash at seq ${checkpoint.seq} is not the one its checkpoint signed`);
  }
  checkpoints++;
}

function onRecord(record) {
  sameTrail(record.tenant_id ?? "platform", record.seq);
  head ??= { seq: 0, hash: GENESIS };
  const expected = head.seq + 1;
  if (record.seq !== expected) {
    fail(
      record.seq,
      record.seq > expected
        ? `seq ${record.seq} follows ${expected - 1}: records ${expected}…${record.seq - 1} are missing`
        : `seq ${record.seq} follows ${expected - 1}: a record is repeated or out of order`,
    );
  }
  // A record not linked yet is chained through with the hash the chainer will give it.
  const hash = hashOf(head.hash, record);
  if (record.hash === null) pending++;
  else {
    if (record.prev_hash !== head.hash) fail(record.seq, "prev_hash is not the previous record's hash");
    if (hash !== record.hash) fail(record.seq, "hash does not match the record's content");
    records++;
  }
  head = { seq: record.seq, hash };
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
console.log(
  `ok: ${records} records linked through seq ${head?.seq ?? 0}${pending ? `, ${pending} not linked yet` : ""}; ` +
    `${checkpoints} checkpoints ${key ? "signed and matching" : "matching (no key given: signatures not checked)"}`,
);
