/**
 * R2 wants every part of a multipart upload but the last one the same size, and at least 5 MiB:
 * bytes are gathered into one buffer of this size, uploaded when full. It is the writer's only
 * buffer that grows with the archive's size class, so memory stays flat however large the tenant.
 */
export const PART_BYTES = 8 * 1024 * 1024;

/**
 * A WritableStream into an R2 multipart upload, in parts of PART_BYTES. Each write resolves once
 * its bytes are buffered or uploaded, so a producer writing into it is held back while a part is
 * on its way (backpressure). Nothing is visible under the key until `complete()`; `abort()` drops
 * the parts.
 */
export class MultipartSink {
  private readonly buffer: Uint8Array;
  private filled = 0;
  private readonly parts: R2UploadedPart[] = [];
  /** Bytes written so far. */
  bytes = 0;

  private constructor(
    private readonly upload: R2MultipartUpload,
    partBytes: number,
  ) {
    this.buffer = new Uint8Array(partBytes);
  }

  static async open(
    bucket: R2Bucket,
    key: string,
    options: R2MultipartOptions,
    partBytes = PART_BYTES,
  ): Promise<MultipartSink> {
    return new MultipartSink(await bucket.createMultipartUpload(key, options), partBytes);
  }

  get uploadId(): string {
    return this.upload.uploadId;
  }

  /** A fresh WritableStream over the sink; closing it does not complete the upload. */
  writable(): WritableStream<Uint8Array> {
    return new WritableStream<Uint8Array>({ write: (chunk) => this.write(chunk) });
  }

  private async write(chunk: Uint8Array) {
    let at = 0;
    while (at < chunk.byteLength) {
      const take = Math.min(chunk.byteLength - at, this.buffer.byteLength - this.filled);
      this.buffer.set(chunk.subarray(at, at + take), this.filled);
      this.filled += take;
      at += take;
      if (this.filled === this.buffer.byteLength) await this.flush();
    }
    this.bytes += chunk.byteLength;
  }

  private async flush() {
    if (this.filled === 0) return;
    // The upload has read the bytes once it resolves, so the buffer is free again after it.
    const part = await this.upload.uploadPart(this.parts.length + 1, this.buffer.subarray(0, this.filled));
    this.parts.push(part);
    this.filled = 0;
  }

  /** Uploads what is buffered and completes the upload: the object appears under its key, whole. */
  async complete(): Promise<R2Object> {
    await this.flush();
    // An upload of no part cannot complete; an empty archive still has its end record, so never here.
    if (this.parts.length === 0) throw new Error("Nothing was written");
    return this.upload.complete(this.parts);
  }

  async abort(): Promise<void> {
    await this.upload.abort();
  }
}
