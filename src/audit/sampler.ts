/**
 * At most `limit` records per `windowMs` in one isolate; the ones let go are counted and the next
 * record written says how many, so a flood of unknown keys costs bounded writes and is still seen.
 */
export class PlatformSampler {
  private windowStart = 0;
  private taken = 0;
  private suppressed = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  take(now: number): { record: boolean; suppressed: number } {
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.taken = 0;
    }
    if (this.taken >= this.limit) {
      this.suppressed++;
      return { record: false, suppressed: 0 };
    }
    this.taken++;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    return { record: true, suppressed };
  }
}
