import { describe, expect, it } from "vitest";
import { advance, MAX_AHEAD } from "../../src/events/consumer";

// The feed consumer's cursor: deduplicated by seq, in order, and never stuck behind a lost event.

describe("the delivery cursor", () => {
  it("counts repeats, holds events ahead of a gap, and moves on once the gap closes", () => {
    const first = advance({ throughSeq: 0, ahead: [] }, [1, 2, 4, 2]);
    expect(first).toMatchObject({ throughSeq: 2, ahead: [4], fresh: 3, duplicates: 1, skipped: null });
    const next = advance(first, [3, 4, 5]);
    expect(next).toMatchObject({ throughSeq: 5, ahead: [], fresh: 2, duplicates: 1 });
  });

  it("gives up a gap once more than MAX_AHEAD events wait behind it, and says which", () => {
    const waiting = Array.from({ length: MAX_AHEAD + 1 }, (_, i) => i + 3);
    const result = advance({ throughSeq: 1, ahead: [] }, waiting);
    expect(result).toMatchObject({ throughSeq: MAX_AHEAD + 3, ahead: [], skipped: [2, 2] });
  });
});
