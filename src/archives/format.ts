import { z } from "zod";

// The archive format, one for exports, backups, hibernated tenants and clones (the README's
// "Archive format" section documents it for readers outside this code):
//
//   <dataset>.ndjson        one per dataset of the registry that is data in its own right, in
//                           registry order; one row per line, canonical JSON (RFC 8785) by SQL
//                           column name, secrets left out
//   manifest.json           what is in the archive, written last (it names every file's digest)
//   manifest.json.sha256    the manifest's SHA-256, `sha256sum` style (the detached checksum)
//
// A reader refuses a format_version it does not know; a change a reader of the previous version
// could misread gets a new version.

export const FORMAT_NAME = "edge-tenancy-archive";
export const FORMAT_VERSION = 1;
export const MANIFEST_FILE = "manifest.json";
export const MANIFEST_CHECKSUM_FILE = "manifest.json.sha256";

/** The file holding a dataset's rows. */
export const datasetFile = (dataset: string) => `${dataset}.ndjson`;

/** What an archive was made for; each kind lives under its own prefix in the bucket. */
export const ARCHIVE_KINDS = ["export", "backup", "archive"] as const;
export type ArchiveKind = (typeof ARCHIVE_KINDS)[number];

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const ManifestFile = z.object({
  name: z.string(),
  dataset: z.string(),
  home: z.enum(["control", "shard", "gate"]),
  rows: z.number().int().nonnegative(),
  /** Uncompressed bytes of the NDJSON. */
  bytes: z.number().int().nonnegative(),
  sha256: Sha256,
});
export type ManifestFile = z.infer<typeof ManifestFile>;

export const Manifest = z.object({
  format: z.literal(FORMAT_NAME),
  format_version: z.number().int().positive(),
  kind: z.enum(ARCHIVE_KINDS),
  archive_id: z.string(),
  tenant: z.object({
    id: z.string(),
    slug: z.string(),
    tier: z.string(),
    region: z.string().nullable(),
  }),
  generated_at: z.iso.datetime(),
  source: z.object({ shard_id: z.string(), engine: z.enum(["d1", "postgres"]) }),
  /**
   * The tenant's feed before and after the rows were read: every change up to `before_seq` is in
   * the archive, none after `after_seq` is. Replaying the events after `before_seq` onto it gives
   * the tenant exactly as of any seq from `after_seq` on (a point-in-time restore).
   */
  feed: z.object({ before_seq: z.number().int().nonnegative(), after_seq: z.number().int().nonnegative() }),
  /** The newest linked record of the audit trail in the archive (null: none yet). */
  audit_chain_head: z.object({ seq: z.number().int().positive(), hash: Sha256 }).nullable(),
  /** Datasets the database derives from others (rebuilt by an import, so not in the archive). */
  derived: z.array(z.string()),
  files: z.array(ManifestFile),
});
export type Manifest = z.infer<typeof Manifest>;

/** The detached checksum's text: what `sha256sum manifest.json` prints. */
export const checksumLine = (sha256: string) => `${sha256}  ${MANIFEST_FILE}\n`;

/** The file name an archive is downloaded as: <tenant slug>-<kind>-<day made>.zip. */
export const archiveFileName = (slug: string, kind: ArchiveKind, at: number) =>
  `${slug}-${kind}-${new Date(at).toISOString().slice(0, 10)}.zip`;
