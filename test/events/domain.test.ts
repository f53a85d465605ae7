import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { type DomainEvent, type DomainEventType, emitter, type Listener } from "../../src/events/domain";
import { LISTENERS, systemOrigin } from "../../src/events/listeners";
import { captureConsole } from "../helpers";

const listener = (name: string, types: DomainEventType[], seen: string[], fail = false): Listener => ({
  name,
  types: new Set(types),
  handle: async (_, event) => {
    await scheduler.wait(5);
    seen.push(`${name}:${event.type}`);
    if (fail) throw new Error(`${name} broke`);
  },
});

const origin = () => systemOrigin("test");

describe("domain events", () => {
  const warnings = captureConsole("warn");

  it("reach only the listeners of their type, and emit resolves once they have run", async () => {
    const seen: string[] = [];
    const emit = emitter(
      env,
      [
        listener("keys", ["key.revoked"], seen),
        listener("tenants", ["tenant.updated"], seen),
        listener("both", ["key.revoked", "tenant.updated"], seen),
      ],
      origin,
    );
    await emit({ type: "key.revoked", tenantId: "ten_1", keyId: "key_1" });
    expect(seen.sort()).toEqual(["both:key.revoked", "keys:key.revoked"]);
    await emit({ type: "user.created", tenantId: "ten_1", userId: "usr_1" });
    expect(seen).toHaveLength(2);
  });

  it("never fail the change: a listener's error is logged, and the others still run", async () => {
    const seen: string[] = [];
    const emit = emitter(
      env,
      [listener("broken", ["tenant.updated"], seen, true), listener("fine", ["tenant.updated"], seen)],
      origin,
    );
    await expect(emit({ type: "tenant.updated", tenantId: "ten_1" })).resolves.toBeUndefined();
    expect(seen.sort()).toEqual(["broken:tenant.updated", "fine:tenant.updated"]);
    const line = JSON.parse(String(warnings().mock.calls[0]?.[0]));
    expect(line).toMatchObject({ msg: "event listener failed", listener: "broken", event: "tenant.updated" });
    expect(line.error).toContain("broken broke");
  });

  it("invalidate the gate on exactly the changes a gate holds", () => {
    const gate = LISTENERS.find((l) => l.name === "gate-invalidation");
    const all: DomainEvent["type"][] = [
      "tenant.created",
      "tenant.updated",
      "tenant.provisioned",
      "key.created",
      "key.revoked",
      "user.created",
      "user.updated",
      "user.deleted",
    ];
    expect(all.filter((type) => gate?.types.has(type))).toEqual([
      "tenant.updated",
      "tenant.provisioned",
      "key.revoked",
      "user.updated",
      "user.deleted",
    ]);
  });
});
