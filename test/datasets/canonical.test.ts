import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { canonicalJson, canonicalRow, checksumOf, orderKeyOf, RowChecksum } from "../../src/datasets/canonical";
import { idempotencyData } from "../../src/http/idempotency-dataset";
import { keyMetadata } from "../../src/keys/dataset";
import { apiKeys } from "../../src/keys/table";

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

describe("canonicalJson", () => {
  it("sorts object keys at every depth and writes no whitespace", () => {
    expect(canonicalJson({ b: 1, a: [true, { d: null, c: "x" }] })).toBe('{"a":[true,{"c":"x","d":null}],"b":1}');
    expect(canonicalJson({ é: 1, z: 2, A: 3 })).toBe('{"A":3,"z":2,"é":1}');
    expect(canonicalJson([1.5, -0, "line\nbreak", "\u2028"])).toBe('[1.5,0,"line\\nbreak","\u2028"]');
  });

  it("refuses what is not JSON rather than writing something else", () => {
    for (const value of [
      undefined,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      new Date(0),
      1n,
      { a: undefined },
      [() => 1],
    ]) {
      expect(() => canonicalJson(value)).toThrow(TypeError);
    }
    expect(() => canonicalJson({ a: { b: new Date(0) } })).toThrow("value.a.b is not a JSON value");
  });
});

describe("canonicalRow", () => {
  const row = {
    id: "key_1",
    tenantId: "ten_1",
    userId: null,
    name: "ci",
    prefix: "pk_1",
    secretHash: "f".repeat(64),
    scopes: ["entries:read"],
    rateLimitPerMinute: 10,
    expiresAt: null,
    lastUsedAt: 1_700_000_000_000,
    revokedAt: null,
    createdAt: 1_600_000_000_000,
  };

  it("keys the columns by SQL name in table order and leaves the omitted ones out", () => {
    const canonical = canonicalRow(keyMetadata, apiKeys, row);
    expect(Object.keys(canonical)).toEqual([
      "id",
      "tenant_id",
      "user_id",
      "name",
      "prefix",
      "scopes",
      "rate_limit_per_minute",
      "expires_at",
      "last_used_at",
      "revoked_at",
      "created_at",
    ]);
    expect(canonical.scopes).toEqual(["entries:read"]);
    expect(orderKeyOf(keyMetadata, canonical)).toEqual(["key_1"]);
  });

  it("refuses a column a driver gave in another type than JSON, or did not give", () => {
    expect(() => canonicalRow(keyMetadata, apiKeys, { ...row, createdAt: new Date(0) })).toThrow(
      "api-keys.created_at is not a JSON value",
    );
    expect(() => canonicalRow(keyMetadata, apiKeys, { ...row, revokedAt: undefined })).toThrow(
      "api-keys.revoked_at is not a JSON value",
    );
  });

  it("gives a composite order key in the declared order", () => {
    expect(orderKeyOf(idempotencyData, { key: "k", principal: "p", method: "POST" })).toEqual(["p", "k"]);
  });
});

describe("the row checksum", () => {
  it("is the SHA-256 of each row's canonical JSON and a newline, in order", () => {
    const rows = [{ b: 2, a: 1 }, ["x"]];
    expect(checksumOf(rows)).toBe(sha256('{"a":1,"b":2}\n["x"]\n'));
    expect(checksumOf([...rows].reverse())).not.toBe(checksumOf(rows));
    expect(checksumOf([])).toBe(sha256(""));
    const streamed = new RowChecksum();
    for (const row of rows) streamed.add(row);
    expect(streamed.rows).toBe(2);
    expect(streamed.digest()).toBe(checksumOf(rows));
  });
});
