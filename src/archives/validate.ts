import { ChainVerifier, type CheckpointEntry } from "../audit/chain";
import { checkpointEntry } from "../audit/checkpoints";
import { auditCheckpointSet, auditTrail } from "../audit/dataset";
import { auditRecord, GENESIS_HASH, type TrailRow } from "../audit/record";
import type { CheckpointRow } from "../audit/table";
import { DATASETS } from "../datasets/registry";
import { datasetFile, type Manifest } from "./format";
import { ArchiveInvalid, type OpenArchive, openArchive } from "./reader";
import { storeRow } from "./rows";

export type Validation = {
  ok: boolean;
  manifest_sha256: string | null;
  files: { name: string; rows: number }[];
  audit: { checked: number; pending: number; checkpoints_checked: number; head: { seq: number; hash: string } } | null;
  /** What is wrong, when not ok: the first problem found. */
  problem: string | null;
};

async function readAll(archive: OpenArchive, file: Manifest["files"][number], each?: (row: never) => void) {
  let rows = 0;
  for await (const row of archive.rows(file)) {
    each?.(row as never);
    rows++;
  }
  return rows;
}

/**
 * Checks the archive's audit trail while reading it: every seq, link and hash from its start
 * (genesis, or the checkpoint retention left before its first record), every checkpoint's
 * signature, and that the manifest's chain head is a record of the chain.
 */
async function verifyAuditFile(archive: OpenArchive, tenantId: string, key: string) {
  const { files, audit_chain_head: head } = archive.manifest;
  const recordsFile = files.find((f) => f.dataset === auditTrail.name);
  const checkpointsFile = files.find((f) => f.dataset === auditCheckpointSet.name);
  if (!recordsFile || !checkpointsFile) throw new ArchiveInvalid("The archive holds no audit trail");
  const checkpoints: CheckpointEntry[] = [];
  await readAll(archive, checkpointsFile, (row) => {
    checkpoints.push(checkpointEntry(tenantId, storeRow(auditCheckpointSet, row) as unknown as CheckpointRow));
  });
  let verifier: ChainVerifier | null = null;
  let headSeen = head === null;
  await readAll(archive, recordsFile, (row) => {
    const record = auditRecord(tenantId, storeRow(auditTrail, row) as unknown as TrailRow);
    if (!verifier) {
      const start =
        record.seq === 1 ? { seq: 0, hash: GENESIS_HASH } : checkpoints.find((c) => c.seq === record.seq - 1);
      if (!start)
        throw new ArchiveInvalid(`The trail starts at seq ${record.seq} and no checkpoint signs seq ${record.seq - 1}`);
      verifier = new ChainVerifier(key, checkpoints, { seq: start.seq, hash: start.hash });
    }
    if (!verifier.add(record))
      throw new ArchiveInvalid(`The audit chain breaks at seq ${verifier.broken?.seq}: ${verifier.broken?.reason}`);
    if (head && record.seq === head.seq) headSeen = record.hash === head.hash;
  });
  const done = verifier as ChainVerifier | null;
  const broken = done?.finish();
  if (broken) throw new ArchiveInvalid(`The audit chain breaks at seq ${broken.seq}: ${broken.reason}`);
  if (!headSeen) throw new ArchiveInvalid("The manifest's audit chain head is not a record of the trail");
  return {
    checked: done?.checked ?? 0,
    pending: done?.pending ?? 0,
    checkpoints_checked: done?.checkpointsChecked ?? 0,
    head: done?.head ?? { seq: 0, hash: GENESIS_HASH },
  };
}

/**
 * Reads the whole archive back from the bucket and checks it: the manifest against its detached
 * checksum (and the one recorded when it was made), its structure, that it is the tenant's, that
 * it lists a file for each dataset it names and no unknown dataset, every file's CRC-32, SHA-256,
 * rows and bytes, and its audit chain. Streams: memory holds a chunk, never a file.
 */
export async function validateArchive(
  bucket: R2Bucket,
  objectKey: string,
  expect: { tenantId: string; manifestSha256: string | null; checkpointKey: string },
): Promise<Validation> {
  let archive: OpenArchive | null = null;
  const files: Validation["files"] = [];
  try {
    archive = await openArchive(bucket, objectKey, expect.manifestSha256);
    const { manifest } = archive;
    if (manifest.tenant.id !== expect.tenantId) throw new ArchiveInvalid("The archive is another tenant's");
    const known = new Set(DATASETS.map((d) => d.name));
    for (const file of manifest.files) {
      if (!known.has(file.dataset)) throw new ArchiveInvalid(`The archive holds an unknown dataset ${file.dataset}`);
      if (file.name !== datasetFile(file.dataset))
        throw new ArchiveInvalid(`${file.name} is not named for its dataset`);
    }
    const audit = await verifyAuditFile(archive, expect.tenantId, expect.checkpointKey);
    const auditFiles = new Set([auditTrail.name, auditCheckpointSet.name]);
    for (const file of manifest.files) {
      // The audit files were read to the end above, which checked their rows against the manifest.
      files.push({ name: file.name, rows: auditFiles.has(file.dataset) ? file.rows : await readAll(archive, file) });
    }
    return { ok: true, manifest_sha256: archive.manifestSha256, files, audit, problem: null };
  } catch (error) {
    if (!(error instanceof ArchiveInvalid)) throw error;
    return { ok: false, manifest_sha256: archive?.manifestSha256 ?? null, files, audit: null, problem: error.message };
  } finally {
    await archive?.close().catch(() => undefined);
  }
}
