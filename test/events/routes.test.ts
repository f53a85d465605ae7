import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { relayTenant } from "../../src/events/relay";
import { encodeCursor } from "../../src/http/cursor";
import { adminKey, call, createTenant, expectProblem, settled, tenantKey } from "../helpers";

// GET /v1/tenants/:id/events: the feed, oldest first, paged by cursor, with the consumer's cursor.

let admin: string;
let tenantId: string;
let owner: string;

beforeAll(async () => {
  admin = await adminKey();
  tenantId = (await createTenant(admin)).id;
  owner = (await tenantKey(admin, tenantId)).secret;
  for (let i = 0; i < 4; i++) {
    await call(`/v1/tenants/${tenantId}/entries`, { method: "POST", key: owner, body: { data: { i }, tags: [] } });
  }
  await relayTenant(env, controlDb(env), tenantId);
  await settled(tenantId);
});

describe("the event feed route", () => {
  it("pages the feed oldest first from a cursor, and says how far delivery has got", async () => {
    const seen: number[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < 10; page++) {
      const res = await call(`/v1/tenants/${tenantId}/events?limit=3${cursor ? `&cursor=${cursor}` : ""}`, {
        key: owner,
      });
      expect(res.status, res.text).toBe(200);
      seen.push(...res.json.data.map((e: { seq: number }) => e.seq));
      cursor = res.json.next_cursor;
      if (!res.json.has_more) break;
    }
    expect(seen).toEqual(seen.map((_, i) => i + 1));
    expect(seen.length).toBe(7); // tenant.created, tenant.provisioned, key.created and four entries
    const last = await call(`/v1/tenants/${tenantId}/events?cursor=${cursor}`, { key: owner });
    // Polling from the end: nothing new, and the same cursor to poll from again.
    expect(last.json).toMatchObject({ data: [], has_more: false, next_cursor: cursor });
    expect(last.json.delivery).toMatchObject({ through_seq: 7, delivered: 7, duplicates: 0 });
    expect(last.json.delivery.through_event_id).toMatch(/^evt_[0-9A-Z]+_000000000007$/);
  });

  it("refuses a cursor of another tenant's feed, a malformed one, and a bad limit", async () => {
    const other = (await createTenant(admin)).id;
    const foreign = encodeCursor(`evt_${other.slice(4)}_000000000001`);
    expectProblem(
      await call(`/v1/tenants/${tenantId}/events?cursor=${foreign}`, { key: owner }),
      400,
      "validation-error",
    );
    expectProblem(await call(`/v1/tenants/${tenantId}/events?cursor=nope`, { key: owner }), 400, "validation-error");
    expectProblem(await call(`/v1/tenants/${tenantId}/events?limit=0`, { key: owner }), 400, "validation-error");
  });

  it("is for the tenant's admins, and another tenant's key gets 404", async () => {
    const reader = (await tenantKey(admin, tenantId, ["entries:read"])).secret;
    expectProblem(await call(`/v1/tenants/${tenantId}/events`, { key: reader }), 403, "insufficient-scope");
    const other = await createTenant(admin);
    const theirs = (await tenantKey(admin, other.id)).secret;
    expectProblem(await call(`/v1/tenants/${tenantId}/events`, { key: theirs }), 404, "not-found");
    expect((await call(`/v1/tenants/${tenantId}/events`, { key: admin })).status).toBe(200);
  });
});
