import type { ControlDb } from "../db/client";
import { errorText } from "../db/errors";
import { type GateKey, gateKeysQuery } from "../keys/service";
import { routeQuery, type TenantRoute, toRoute } from "../routing/route";
import { Reloads } from "./reloads";

/** Keys whose state the gate keeps at most; a reload keeps the most recently added ones. */
const MAX_KEYS = 256;
/** After a failed refresh, serve the stored copy this long before asking the control DB again. */
const REFRESH_BACKOFF_MS = 1_000;

/** The tenant's route and these keys, as the control database holds them. */
export type ControlData = { route: TenantRoute | null; keys: GateKey[] };

/** The copy as its owner stores it. */
export type StoredCopy = { tenantId: string; route: TenantRoute | null; keys: GateKey[] };

export type ControlCopyOptions = {
  maxStalenessMs: number;
  /** Reads the control database; may reject. */
  read: (tenantId: string, keyIds: string[]) => Promise<ControlData>;
  /** Replaces the stored copy, all or nothing. */
  save: (copy: StoredCopy) => void;
};

/** Reads a tenant's route and keys from the control database. */
export async function readControl(db: ControlDb, tenantId: string, keyIds: string[]): Promise<ControlData> {
  // Not db.batch: batch results are mapped by column name, and tenants and shards share some.
  const [routeRows, keys] = await Promise.all([routeQuery(db, tenantId), gateKeysQuery(db, tenantId, keyIds)]);
  return { route: toRoute(routeRows[0]), keys };
}

/**
 * A gate's copy of its tenant's route and keys: refreshed from the control database at most
 * `maxStalenessMs` apart (at once when told of a change, or asked for a key it lacks), and
 * served as it stands while the control database fails.
 */
export class ControlCopy {
  private tenantId: string | null = null;
  private currentRoute: TenantRoute | null = null;
  private keys = new Map<string, GateKey>();
  private confirmedAt = 0;
  private lastFailureAt = 0;
  private failing = false;
  /** The tenant the next reload is for: the one the gate is named after. */
  private reloadTenant = "";
  private readonly reloads = new Reloads(
    () => this.keys.keys(),
    (keyIds) => this.reload(keyIds),
    MAX_KEYS,
  );
  /** What the stored copy holds, so a reload that changed nothing writes nothing. */
  private storedCopy: string | null = null;

  constructor(private readonly options: ControlCopyOptions) {}

  /**
   * Takes the copy read back from storage after a restart, or after its storage was replaced
   * (an import, a purge); it counts as unconfirmed, and the next reload saves what it reads.
   */
  restore(tenantId: string | null, route: TenantRoute | null, keys: Map<string, GateKey>) {
    this.tenantId = tenantId;
    this.currentRoute = route;
    this.keys = keys;
    this.confirmedAt = 0;
    this.storedCopy = null;
    // A failure before the storage was replaced says nothing of the copy now held.
    this.failing = false;
    this.lastFailureAt = 0;
  }

  get route(): TenantRoute | null {
    return this.currentRoute;
  }

  /** True when the last reload failed and the copy is served as it stood. */
  get stale(): boolean {
    return this.failing;
  }

  key(keyId: string): GateKey | undefined {
    return this.keys.get(keyId);
  }

  /** Makes sure the copy is at most `maxStalenessMs` old, unless the control DB is failing. */
  async ensureFresh(tenantId: string, keyId?: string) {
    const now = Date.now();
    const known = this.currentRoute !== null && (keyId === undefined || this.keys.has(keyId));
    const tooOld = now - this.confirmedAt > this.options.maxStalenessMs || this.tenantId !== tenantId;
    if (known && !tooOld) return;
    if (known && this.failing && now - this.lastFailureAt < REFRESH_BACKOFF_MS) return;
    await this.refresh(tenantId, known ? undefined : keyId);
    // A key known when the reload was joined may have been left out of it (past MAX_KEYS): ask for it.
    if (known && keyId !== undefined && !this.keys.has(keyId) && !this.failing) await this.refresh(tenantId, keyId);
  }

  /** Reloads now, after a change: past the back-off, and not sharing a reload that began before. */
  async invalidate(tenantId: string) {
    this.confirmedAt = 0;
    this.lastFailureAt = 0;
    // A reload already under way may have read before the change committed: wait for a new one.
    await this.refresh(tenantId, undefined, true);
  }

  /**
   * Reloads the copy, sharing a reload already under way when it answers the question: it asks
   * for `keyId` (a key the copy lacks) and, unless `fresh`, it may have started earlier.
   */
  private refresh(tenantId: string, keyId?: string, fresh = false): Promise<void> {
    this.reloadTenant = tenantId;
    return this.reloads.request(keyId, fresh);
  }

  /**
   * Reloads the route and these keys from the control database. Never rejects: a failure marks
   * the copy stale, and the stored copy goes on serving.
   */
  private async reload(keyIds: string[]): Promise<void> {
    const tenantId = this.reloadTenant;
    try {
      const { route, keys } = await this.options.read(tenantId, keyIds);
      this.currentRoute = route;
      this.keys = new Map(keys.map((key) => [key.id, key]));
      this.confirmedAt = Date.now();
      this.failing = false;
      const copy = JSON.stringify([tenantId, route, keys]);
      if (copy !== this.storedCopy) {
        this.tenantId = tenantId;
        this.options.save({ tenantId, route, keys });
        this.storedCopy = copy;
      }
    } catch (error) {
      this.lastFailureAt = Date.now();
      this.failing = true;
      console.warn(
        JSON.stringify({
          level: "warn",
          msg: "gate refresh failed; serving the stored copy",
          tenant_id: tenantId,
          error: errorText(error),
        }),
      );
    }
  }
}
