/**
 * The entry document model, the same on every engine. Refused, at any depth:
 * - U+0000 in a string or a key: PostgreSQL's jsonb (and its text) cannot hold it;
 * - a lone surrogate (half of a UTF-16 pair) in a string or a key: it is not Unicode text, and
 *   jsonb refuses it too;
 * - the key `__proto__`: JavaScript objects (this API's validator included) cannot hold it as a
 *   plain key, so it would be dropped silently, here or in a client;
 * - a number JSON parsing turned into Infinity (such as 1e400): it would be stored as null;
 * - an integer beyond ±(2^53 − 1), the range RFC 8259 §6 calls interoperable: a double cannot
 *   hold it exactly, so it would be stored rounded (found by `parseMarkingInexact`);
 * - nesting deeper than MAX_DOCUMENT_DEPTH, `data` itself being the first level.
 */
export const MAX_DOCUMENT_DEPTH = 64;
/** A document with many problems lists this many; the caller fixes them and learns the rest. */
export const MAX_DOCUMENT_ISSUES = 20;

export type DocumentIssue = { path: (string | number)[]; message: string };

/** Where JSON text held an integer literal that a double cannot hold exactly. */
export class InexactInteger {
  constructor(readonly source: string) {}
}

const INTEGER_LITERAL = /^-?\d+$/;

/**
 * Parses JSON text like JSON.parse, but leaves an InexactInteger where an integer literal lies
 * outside ±(2^53 − 1), so that documentIssues can say where it is. Reading a literal's source
 * text is the only way to tell 12345678901234567890 (rounded) from 1e19 (meant as a double).
 */
export function parseMarkingInexact(text: string): { value: unknown; inexact: boolean } {
  let inexact = false;
  const value = JSON.parse(text, (_key, parsed, context?: { source?: string }) => {
    if (typeof parsed !== "number" || Number.isSafeInteger(parsed)) return parsed;
    const source = context?.source;
    if (source === undefined || !INTEGER_LITERAL.test(source)) return parsed;
    inexact = true;
    return new InexactInteger(source);
  });
  return { value, inexact };
}

type Container = { value: object; depth: number; parent: Container | null; key: string | number | null };

const pathOf = (container: Container, last?: string | number): (string | number)[] => {
  const path: (string | number)[] = last === undefined ? [] : [last];
  for (let at: Container | null = container; at?.parent; at = at.parent) path.push(at.key as string | number);
  return path.reverse();
};

const NUL = "\u0000";

function textProblem(text: string, what: "string" | "key"): string | null {
  if (text.includes(NUL)) return `a ${what} may not contain U+0000 (NUL)`;
  if (!text.isWellFormed()) return `a ${what} may not contain a lone surrogate (half of a UTF-16 pair)`;
  return null;
}

/**
 * Every way `document` breaks the model, with the path to each (keys and array indexes below
 * `document`), at most `limit` of them. Walks without recursion, so no nesting can overflow
 * the stack before it is refused.
 */
export function documentIssues(document: unknown, limit = MAX_DOCUMENT_ISSUES): DocumentIssue[] {
  const issues: DocumentIssue[] = [];
  const report = (path: (string | number)[], message: string) => {
    issues.push({ path, message });
    return issues.length >= limit;
  };
  if (document === null || typeof document !== "object") return issues;
  const stack: Container[] = [{ value: document, depth: 1, parent: null, key: null }];
  for (let container = stack.pop(); container; container = stack.pop()) {
    const entries: [string | number, unknown][] = Array.isArray(container.value)
      ? container.value.map((item, index) => [index, item])
      : Object.entries(container.value);
    for (const [key, value] of entries) {
      if (typeof key === "string") {
        const problem = key === "__proto__" ? "the key __proto__ is not allowed" : textProblem(key, "key");
        if (problem && report(pathOf(container, key), problem)) return issues;
      }
      if (typeof value === "string") {
        const problem = textProblem(value, "string");
        if (problem && report(pathOf(container, key), problem)) return issues;
      } else if (typeof value === "number") {
        if (!Number.isFinite(value) && report(pathOf(container, key), "the number is too large for a double")) {
          return issues;
        }
      } else if (value instanceof InexactInteger) {
        const message = `the integer ${value.source.slice(0, 40)} is beyond ±(2^53 − 1) and would be rounded; send it as a string`;
        if (report(pathOf(container, key), message)) return issues;
      } else if (value !== null && typeof value === "object") {
        if (container.depth + 1 > MAX_DOCUMENT_DEPTH) {
          if (report(pathOf(container, key), `data may be nested at most ${MAX_DOCUMENT_DEPTH} levels deep`)) {
            return issues;
          }
        } else stack.push({ value, depth: container.depth + 1, parent: container, key });
      }
    }
  }
  return issues;
}
