import { AwsClient } from "aws4fetch";

/**
 * Presigned S3 GET URLs for the archives bucket, an alternative to the links the Worker serves:
 * R2 then sends the bytes itself, with no Worker in the way (no request time, no egress through
 * the Worker). On only when all of endpoint and credentials are configured.
 */
export type S3Vars = {
  /** https://<account id>.r2.cloudflarestorage.com (…eu.r2… for an EU bucket). */
  R2_S3_ENDPOINT?: string;
  /** The bucket's name, as the S3 API knows it; wrangler.toml's bucket_name by default. */
  R2_S3_BUCKET?: string;
  R2_S3_ACCESS_KEY_ID?: string;
  R2_S3_SECRET_ACCESS_KEY?: string;
};

const DEFAULT_BUCKET = "edge-tenancy-archives";

export type S3Config = { endpoint: string; bucket: string; client: AwsClient };

/** The bucket's S3 access, or null when links are the Worker's own (any of the settings missing). */
export function s3Config(env: S3Vars): S3Config | null {
  const { R2_S3_ENDPOINT: endpoint, R2_S3_ACCESS_KEY_ID: accessKeyId, R2_S3_SECRET_ACCESS_KEY: secretAccessKey } = env;
  if (!endpoint || !accessKeyId || !secretAccessKey) return null;
  return {
    endpoint: endpoint.replace(/\/+$/, ""),
    bucket: env.R2_S3_BUCKET || DEFAULT_BUCKET,
    // R2 signs in region "auto"; the endpoint's host would make aws4fetch guess another.
    client: new AwsClient({ accessKeyId, secretAccessKey, service: "s3", region: "auto" }),
  };
}

/** SigV4's timestamp: 20261202T041000Z. */
const amzDate = (at: number) => new Date(at).toISOString().replace(/[-:]|\.\d{3}/g, "");

/**
 * A URL that GETs (or HEADs, or reads a range of) the object `key` until `expiresAt`, signed in
 * its query string (SigV4). Nothing else can be fetched with it, and changing any part of it
 * breaks the signature (403 from R2, as after it expires).
 */
export async function presignGet(config: S3Config, key: string, expiresAt: number, now = Date.now()): Promise<string> {
  const url = new URL(`${config.endpoint}/${config.bucket}/${key.split("/").map(encodeURIComponent).join("/")}`);
  // The URL is valid from its signing second for X-Amz-Expires seconds: up to `expiresAt`.
  const signedAt = Math.floor(now / 1000);
  url.searchParams.set("X-Amz-Expires", String(Math.max(1, Math.floor(expiresAt / 1000) - signedAt)));
  const signed = await config.client.sign(url, {
    method: "GET",
    aws: { signQuery: true, datetime: amzDate(signedAt * 1000) },
  });
  return signed.url;
}
