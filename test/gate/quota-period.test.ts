import { describe, expect, it } from "vitest";
import { quotaPeriod } from "../../src/gate/quota-period";

const utc = (iso: string) => Date.parse(iso);

describe("quotaPeriod", () => {
  it("mid-month", () => {
    expect(quotaPeriod(utc("2030-05-17T13:45:12.345Z"))).toEqual({
      id: "2030-05",
      start: utc("2030-05-01T00:00:00.000Z"),
      end: utc("2030-06-01T00:00:00.000Z"),
    });
  });

  it("00:00:00.000 UTC on the 1st belongs to the new month", () => {
    const boundary = utc("2030-06-01T00:00:00.000Z");
    expect(quotaPeriod(boundary)).toEqual({
      id: "2030-06",
      start: boundary,
      end: utc("2030-07-01T00:00:00.000Z"),
    });
  });

  it("the last millisecond of a month belongs to that month", () => {
    const last = utc("2030-06-01T00:00:00.000Z") - 1;
    expect(new Date(last).toISOString()).toBe("2030-05-31T23:59:59.999Z");
    expect(quotaPeriod(last)).toEqual({
      id: "2030-05",
      start: utc("2030-05-01T00:00:00.000Z"),
      end: utc("2030-06-01T00:00:00.000Z"),
    });
  });

  it("the end of one period is the start of the next", () => {
    const may = quotaPeriod(utc("2030-05-10T00:00:00Z"));
    expect(quotaPeriod(may.end).start).toBe(may.end);
    expect(quotaPeriod(may.end - 1).id).toBe("2030-05");
  });

  it("December rolls over into January of the next year", () => {
    expect(quotaPeriod(utc("2029-12-31T23:59:59.999Z"))).toEqual({
      id: "2029-12",
      start: utc("2029-12-01T00:00:00.000Z"),
      end: utc("2030-01-01T00:00:00.000Z"),
    });
    expect(quotaPeriod(utc("2030-01-01T00:00:00.000Z"))).toEqual({
      id: "2030-01",
      start: utc("2030-01-01T00:00:00.000Z"),
      end: utc("2030-02-01T00:00:00.000Z"),
    });
  });

  it("February in the leap year 2028 has 29 days", () => {
    const feb = quotaPeriod(utc("2028-02-29T12:00:00.000Z"));
    expect(feb).toEqual({
      id: "2028-02",
      start: utc("2028-02-01T00:00:00.000Z"),
      end: utc("2028-03-01T00:00:00.000Z"),
    });
    expect(feb.end - feb.start).toBe(29 * 86_400_000);
    expect(quotaPeriod(utc("2028-03-01T00:00:00.000Z")).id).toBe("2028-03");
  });

  it("February in a common year has 28 days", () => {
    const feb = quotaPeriod(utc("2027-02-28T23:59:59.999Z"));
    expect(feb.id).toBe("2027-02");
    expect(feb.end - feb.start).toBe(28 * 86_400_000);
  });

  it("months are zero-padded and lengths are right across a year", () => {
    const days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    for (let m = 0; m < 12; m++) {
      const p = quotaPeriod(Date.UTC(2031, m, 15, 6));
      expect(p.id).toBe(`2031-${String(m + 1).padStart(2, "0")}`);
      expect(p.start).toBe(Date.UTC(2031, m, 1));
      expect(p.end - p.start).toBe((days[m] as number) * 86_400_000);
    }
    expect(quotaPeriod(Date.UTC(2031, 8, 1)).id).toBe("2031-09");
    expect(quotaPeriod(Date.UTC(2031, 9, 1)).id).toBe("2031-10");
  });

  it("uses UTC, not local time, near midnight", () => {
    // 23:30 UTC on the last day is still the old month everywhere.
    expect(quotaPeriod(utc("2030-03-31T23:30:00.000Z")).id).toBe("2030-03");
    expect(quotaPeriod(utc("2030-04-01T00:30:00.000Z")).id).toBe("2030-04");
  });
});
