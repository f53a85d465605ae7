import { describe, expect, it } from "vitest";
import { Bulkhead } from "../../src/gate/bulkhead";

const T0 = 1_900_000_000_000;
const LEASE = 120_000;

describe("Bulkhead", () => {
  it("starts empty with room", () => {
    const b = new Bulkhead(LEASE);
    expect(b.inFlight(T0)).toBe(0);
    expect(b.hasRoom(T0, 1)).toBe(true);
  });

  it("has no room at all with max 0", () => {
    expect(new Bulkhead(LEASE).hasRoom(T0, 0)).toBe(false);
  });

  it("acquires up to max, then has no room", () => {
    const b = new Bulkhead(LEASE);
    const max = 3;
    for (let i = 0; i < max; i++) {
      expect(b.hasRoom(T0 + i, max)).toBe(true);
      b.acquire(`lease-${i}`, T0 + i);
      expect(b.inFlight(T0 + i)).toBe(i + 1);
    }
    expect(b.hasRoom(T0 + 3, max)).toBe(false);
    expect(b.hasRoom(T0 + 3, max + 1)).toBe(true);
  });

  it("release frees a slot and reports whether the lease existed", () => {
    const b = new Bulkhead(LEASE);
    b.acquire("a", T0);
    b.acquire("b", T0);
    expect(b.hasRoom(T0, 2)).toBe(false);
    expect(b.release("a")).toBe(true);
    expect(b.inFlight(T0)).toBe(1);
    expect(b.hasRoom(T0, 2)).toBe(true);
    // Releasing twice does not free a second slot.
    expect(b.release("a")).toBe(false);
    expect(b.inFlight(T0)).toBe(1);
  });

  it("releasing an unknown id returns false and changes nothing", () => {
    const b = new Bulkhead(LEASE);
    b.acquire("a", T0);
    expect(b.release("nope")).toBe(false);
    expect(b.release("")).toBe(false);
    expect(b.inFlight(T0)).toBe(1);
  });

  it("re-acquiring the same id holds one slot and renews its expiry", () => {
    const b = new Bulkhead(LEASE);
    b.acquire("a", T0);
    b.acquire("a", T0 + 50_000);
    expect(b.inFlight(T0 + 50_000)).toBe(1);
    expect(b.inFlight(T0 + LEASE)).toBe(1);
    expect(b.inFlight(T0 + 50_000 + LEASE)).toBe(0);
  });

  it("a lease expires exactly leaseMs after it was acquired (lost release reclaimed)", () => {
    const b = new Bulkhead(LEASE);
    b.acquire("lost", T0);
    expect(b.inFlight(T0 + LEASE - 1)).toBe(1);
    expect(b.hasRoom(T0 + LEASE - 1, 1)).toBe(false);
    expect(b.hasRoom(T0 + LEASE, 1)).toBe(true);
    expect(b.inFlight(T0 + LEASE)).toBe(0);
    // Its release arriving afterwards finds nothing.
    expect(b.release("lost")).toBe(false);
  });

  it("expires leases independently", () => {
    const b = new Bulkhead(1_000);
    b.acquire("a", T0);
    b.acquire("b", T0 + 300);
    b.acquire("c", T0 + 700);
    expect(b.inFlight(T0 + 999)).toBe(3);
    expect(b.inFlight(T0 + 1_000)).toBe(2);
    expect(b.inFlight(T0 + 1_300)).toBe(1);
    expect(b.inFlight(T0 + 1_699)).toBe(1);
    expect(b.inFlight(T0 + 1_700)).toBe(0);
  });

  it("clear drops every lease", () => {
    const b = new Bulkhead(LEASE);
    for (let i = 0; i < 10; i++) b.acquire(`l${i}`, T0);
    b.clear();
    expect(b.inFlight(T0)).toBe(0);
    expect(b.hasRoom(T0, 1)).toBe(true);
    expect(b.release("l0")).toBe(false);
  });

  it("leaseMs is public and applies to leases acquired after a change", () => {
    const b = new Bulkhead(1_000);
    expect(b.leaseMs).toBe(1_000);
    b.acquire("a", T0);
    b.leaseMs = 5_000;
    b.acquire("b", T0);
    expect(b.inFlight(T0 + 1_000)).toBe(1);
    expect(b.inFlight(T0 + 5_000)).toBe(0);
  });

  it("keeps the in-flight count right under churn", () => {
    const b = new Bulkhead(500);
    const live = new Map<string, number>();
    let now = T0;
    for (let i = 0; i < 2_000; i++) {
      now += (i * 13) % 17;
      const id = `r${i}`;
      b.acquire(id, now);
      live.set(id, now + 500);
      if (i % 3 === 0) {
        const victim = `r${i - 2}`;
        expect(b.release(victim)).toBe((live.get(victim) ?? -1) > now);
        live.delete(victim);
      }
      for (const [k, exp] of live) if (exp <= now) live.delete(k);
      expect(b.inFlight(now)).toBe(live.size);
    }
  });
});
