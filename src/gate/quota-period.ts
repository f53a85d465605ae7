/** Monthly quota periods are calendar months in UTC: they reset at 00:00 UTC on the 1st. */
export function quotaPeriod(now: number): { id: string; start: number; end: number } {
  const date = new Date(now);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  return {
    id: `${year}-${String(month + 1).padStart(2, "0")}`,
    start: Date.UTC(year, month, 1),
    end: Date.UTC(year, month + 1, 1),
  };
}
