/** What the Worker tells the tenant's hub when it hands it a connection it has admitted. */
export type ConnectRequest = {
  tenantId: string;
  keyId: string;
  /** Event types or patterns; null: every type. */
  types: string[] | null;
  /** Resume after this seq (the client's `last_event_id`); null: from now. */
  afterSeq: number | null;
  /** The tenant's plan's connections at most. */
  limit: number;
};

/** The hub's counters since it was created. */
export type HubStats = {
  /** Connections opened. */
  opened: number;
  /** Connections refused at the plan's limit. */
  refused: number;
  /** Connections the hub closed: resync, a revoked key, the tenant gone, a bad client message. */
  dropped: number;
  /** Of those, closed with resync (too far behind). */
  resyncs: number;
  /** Updates held for a client behind and replaced by a later one of the same subject. */
  coalesced: number;
};

export const ZERO_STATS: HubStats = { opened: 0, refused: 0, dropped: 0, resyncs: 0, coalesced: 0 };

export const hubOf = (env: Env, tenantId: string) => env.STREAM_HUB.get(env.STREAM_HUB.idFromName(tenantId));
