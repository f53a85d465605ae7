/**
 * Bounds how many requests of one tenant are in flight. Each admitted request holds a lease that
 * its release returns; a lease whose release never arrives (a crashed isolate, a lost message)
 * expires after `leaseMs`, so a slot cannot leak for longer than that.
 */
export class Bulkhead {
  private leases = new Map<string, number>();

  constructor(public leaseMs: number) {}

  private reclaim(now: number) {
    for (const [id, expiresAt] of this.leases) if (expiresAt <= now) this.leases.delete(id);
  }

  inFlight(now: number): number {
    this.reclaim(now);
    return this.leases.size;
  }

  hasRoom(now: number, max: number): boolean {
    return this.inFlight(now) < max;
  }

  acquire(id: string, now: number) {
    this.leases.set(id, now + this.leaseMs);
  }

  release(id: string): boolean {
    return this.leases.delete(id);
  }

  clear() {
    this.leases.clear();
  }
}
