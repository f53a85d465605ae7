import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import type { DomainEvent, Emit } from "../../src/events/domain";
import { systemOrigin } from "../../src/events/listeners";
import { createKey, revokeKey } from "../../src/keys/service";
import { createTenant as provisionTenant, retryProvisioning, updateTenant } from "../../src/tenants/service";
import { createUser, removeUser, updateUser } from "../../src/users/service";
import { adminKey, createTenant } from "../helpers";

// Each control-plane change announces itself exactly once, after it committed.

const db = controlDb(env);

function recorder() {
  const events: DomainEvent[] = [];
  const emit: Emit = Object.assign(
    async (event: DomainEvent) => {
      events.push(event);
    },
    { origin: systemOrigin("test") },
  );
  return { events, emit };
}

describe("the domain functions of the control plane", () => {
  let admin: string;
  beforeAll(async () => {
    admin = await adminKey();
  });

  it("emit one event per tenant change", async () => {
    const { events, emit } = recorder();
    const tenant = await provisionTenant(db, emit, env, {
      name: "Ev",
      slug: `ev-${crypto.randomUUID()}`,
      tier: "FREE",
    });
    await updateTenant(db, emit, tenant.id, { name: "Ev 2" });
    expect(events).toEqual([
      { type: "tenant.created", tenantId: tenant.id },
      { type: "tenant.updated", tenantId: tenant.id },
    ]);
    await expect(retryProvisioning(db, emit, env, tenant.id)).rejects.toThrow(/PROVISION_ERROR/);
    expect(events).toHaveLength(2);
  });

  it("emit one event per key and user change, and none for a change refused", async () => {
    const tenant = await createTenant(admin);
    const { events, emit } = recorder();
    const user = await createUser(db, emit, tenant.id, {
      email: `u-${crypto.randomUUID()}@example.com`,
      role: "MEMBER",
    });
    await expect(createUser(db, emit, tenant.id, { email: user.email, role: "MEMBER" })).rejects.toThrow(/exists/);
    const { key } = await createKey(db, emit, tenant.id, { name: "k", scopes: ["entries:read"], userId: user.id });
    await updateUser(db, emit, tenant.id, user.id, { role: "READ_ONLY" });
    await revokeKey(db, emit, tenant.id, key.id);
    await revokeKey(db, emit, tenant.id, key.id);
    await removeUser(db, emit, tenant.id, user.id);
    expect(events).toEqual([
      { type: "user.created", tenantId: tenant.id, userId: user.id },
      { type: "key.created", tenantId: tenant.id, keyId: key.id },
      { type: "user.updated", tenantId: tenant.id, userId: user.id },
      { type: "key.revoked", tenantId: tenant.id, keyId: key.id },
      // Again for a key already revoked, so a repeated DELETE reloads the gate once more.
      { type: "key.revoked", tenantId: tenant.id, keyId: key.id },
      { type: "user.deleted", tenantId: tenant.id, userId: user.id },
    ]);
  });
});
