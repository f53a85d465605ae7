/**
 * The JSON this API takes, in every request body, the same whichever engine stores it. Refused,
 * each with the path to it:
 * - U+0000 (NUL) in a string or a key: PostgreSQL's jsonb and text cannot hold it;
 * - a lone surrogate (half of a UTF-16 pair) in a string or a key: not Unicode text, which jsonb
 *   refuses and D1 would turn into U+FFFD;
 * - the key `__proto__`: JavaScript objects (this API's validator among them) cannot hold it as
 *   a plain key, so it would be dropped without a word, here or in a client;
 * - a key twice in one object: parsers disagree on which one counts;
 * - a number a double cannot hold: too large (1e400, Infinity), too small to be anything but 0
 *   (1e-400), or written without an exponent at or past 2^53 and not exactly a double
 *   (12345678901234567890, 9007199254740993.0), or exact but printed otherwise when read back
 *   (2^60 comes back as 1152921504606847000): stored, it would change. RFC 8259 calls
 *   ±(2^53 − 1) the interoperable range; a number written with an exponent is a floating-point
 *   number and is stored as the nearest double, as 0.1 is;
 * - nesting deeper than MAX_BODY_DEPTH levels, the body itself being the first.
 * Bodies that are not UTF-8 are refused before this (src/http/json-body.ts).
 */
export const MAX_BODY_DEPTH = 65;
/** A body with many problems lists this many; the caller fixes them and learns the rest. */
export const MAX_JSON_ISSUES = 20;

export type JsonIssue = { path: (string | number)[]; message: string };

const TWO_53 = 2 ** 53;
const STRING = /"(?:[^"\\]|\\.)*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** What is wrong with a number literal, or null. */
export function numberProblem(literal: string): string | null {
  const value = Number(literal);
  const shown = literal.length > 40 ? `${literal.slice(0, 40)}…` : literal;
  if (!Number.isFinite(value)) return `the number ${shown} is too large for a double`;
  const [mantissa = "", exponent] = literal.toLowerCase().split("e");
  if (value === 0 && /[1-9]/.test(mantissa)) return `the number ${shown} is too small for a double: it would be 0`;
  if (exponent === undefined && Math.abs(value) >= TWO_53) {
    // Kept only if it comes back as sent: the double is exact and prints as these digits.
    const [integer = "0", fraction = ""] = mantissa.split(".");
    if (/[1-9]/.test(fraction) || String(value) !== integer) {
      return `the number ${shown} is past 2^53, where it would not come back as sent; send it as a string`;
    }
  }
  return null;
}

function textProblem(text: string, what: "string" | "key"): string | null {
  if (text.includes("\u0000")) return `a ${what} may not contain U+0000 (NUL)`;
  if (!text.isWellFormed()) return `a ${what} may not contain a lone surrogate (half of a UTF-16 pair)`;
  return null;
}

type Frame = { array: boolean; index: number; key: string | number | null; keys: Set<string> | null };

/**
 * Every way `text` (JSON that parses) breaks the model, at most `limit` of them. It reads the text
 * rather than the parsed value because parsing loses what it must see: a duplicate key, the digits
 * of a number. One pass, no recursion, so no nesting can overflow the stack.
 */
export function jsonTextIssues(text: string, maxDepth = MAX_BODY_DEPTH, limit = MAX_JSON_ISSUES): JsonIssue[] {
  const issues: JsonIssue[] = [];
  const frames: Frame[] = [];
  /** Containers open below the depth limit: read through, not checked (one issue says it all). */
  let beyond = 0;
  let expectKey = false;
  const pathTo = (last?: string | number) => {
    const path = frames.map((frame) => (frame.array ? frame.index : (frame.key as string | number)));
    return last === undefined ? path : [...path, last];
  };
  const report = (path: (string | number)[], message: string) => {
    issues.push({ path, message });
    return issues.length >= limit;
  };
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === " " || ch === "\n" || ch === "\r" || ch === "\t" || ch === ":") {
      i++;
      continue;
    }
    if (ch === "{" || ch === "[") {
      i++;
      if (beyond > 0 || frames.length >= maxDepth) {
        const message = `nested deeper than ${maxDepth} levels, the body itself being the first`;
        if (beyond === 0 && report(pathTo(), message)) return issues;
        beyond++;
        continue;
      }
      frames.push({ array: ch === "[", index: 0, key: null, keys: ch === "{" ? new Set() : null });
      expectKey = ch === "{";
      continue;
    }
    if (ch === "}" || ch === "]") {
      i++;
      if (beyond > 0) beyond--;
      else frames.pop();
      expectKey = false;
      continue;
    }
    if (ch === ",") {
      i++;
      const top = frames.at(-1);
      if (beyond === 0 && top) {
        if (top.array) top.index++;
        else expectKey = true;
      }
      continue;
    }
    if (ch === '"') {
      STRING.lastIndex = i;
      const token = STRING.exec(text)?.[0] ?? '""';
      i += token.length;
      if (beyond > 0) continue;
      const decoded: string = token.includes("\\") ? JSON.parse(token) : token.slice(1, -1);
      const top = frames.at(-1);
      if (expectKey && top && !top.array) {
        expectKey = false;
        const problem =
          decoded === "__proto__"
            ? "the key __proto__ is not allowed"
            : top.keys?.has(decoded)
              ? "this key appears twice in the object"
              : textProblem(decoded, "key");
        top.keys?.add(decoded);
        top.key = decoded;
        if (problem && report(pathTo(), problem)) return issues;
      } else {
        const problem = textProblem(decoded, "string");
        if (problem && report(pathTo(), problem)) return issues;
      }
      continue;
    }
    if (ch === "-" || (ch !== undefined && ch >= "0" && ch <= "9")) {
      NUMBER.lastIndex = i;
      const literal = NUMBER.exec(text)?.[0] ?? ch;
      i += literal.length;
      if (beyond > 0) continue;
      const problem = numberProblem(literal);
      if (problem && report(pathTo(), problem)) return issues;
      continue;
    }
    // true, false, null
    i += ch === "f" ? 5 : 4;
  }
  return issues;
}
