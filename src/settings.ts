/** Numeric settings from `[vars]`, with their defaults; anything but a positive number means "default". */
const positive = (value: string | undefined, fallback: number) => {
  const parsed = Number(value);
  return Number.isFinite(parsed) && parsed > 0 ? parsed : fallback;
};

/** As `positive`, where 0 is a meaningful setting too. */
const nonNegative = (value: string | undefined, fallback: number) => {
  const parsed = value === undefined || value.trim() === "" ? Number.NaN : Number(value);
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : fallback;
};

type NumericVars =
  | "ROUTING_CACHE_MAX_ENTRIES"
  | "ROUTING_CACHE_IDLE_SECONDS"
  | "GATE_MAX_STALENESS_MS"
  | "GATE_LEASE_SECONDS"
  | "SHARD_TIMEOUT_MS"
  | "MOVE_BATCH_SIZE"
  | "MOVE_CLEANUP_DELAY_SECONDS"
  | "MOVE_RETRY_DELAY_SECONDS"
  | "ARCHIVE_PAGE_ROWS"
  | "ARCHIVE_RETRY_DELAY_SECONDS"
  | "EXPORT_RETENTION_DAYS"
  | "EXPORT_LINK_SECONDS"
  | "TENANT_DELETION_GRACE_DAYS"
  | "ARCHIVE_INACTIVE_DAYS"
  | "ARCHIVE_SAMPLE_PAUSE_ROWS"
  | "JOB_RETRY_DELAY_SECONDS"
  | "METRICS_TOP_TENANTS"
  | "METRICS_RETENTION_DAYS"
  | "SLOW_QUERY_MS"
  | "WEBHOOK_RETENTION_DAYS";

export const settings = (env: Partial<Record<NumericVars, string>>) => {
  const gateMaxStalenessMs = positive(env.GATE_MAX_STALENESS_MS, 1_000);
  const shardTimeoutMs = positive(env.SHARD_TIMEOUT_MS, 10_000);
  return {
    routingCacheMaxEntries: Math.floor(positive(env.ROUTING_CACHE_MAX_ENTRIES, 100)),
    routingCacheIdleMs: positive(env.ROUTING_CACHE_IDLE_SECONDS, 3600) * 1000,
    gateMaxStalenessMs,
    gateLeaseMs: positive(env.GATE_LEASE_SECONDS, 60) * 1000,
    shardTimeoutMs,
    moveBatchSize: Math.floor(positive(env.MOVE_BATCH_SIZE, 500)),
    // A failed move step is retried after this many seconds, doubling per failure up to a minute.
    moveRetryDelaySeconds: Math.floor(nonNegative(env.MOVE_RETRY_DELAY_SECONDS, 1)),
    // Rows per read while an archive is written: one page is all of a tenant's rows it holds at once.
    archivePageRows: Math.floor(positive(env.ARCHIVE_PAGE_ROWS, 1_000)),
    // A bench instrument (src/archives/sampling.ts): 0, never set in a deployment.
    archiveSamplePauseRows: Math.floor(nonNegative(env.ARCHIVE_SAMPLE_PAUSE_ROWS, 0)),
    archiveRetryDelaySeconds: Math.floor(nonNegative(env.ARCHIVE_RETRY_DELAY_SECONDS, 1)),
    exportRetentionMs: positive(env.EXPORT_RETENTION_DAYS, 7) * 86_400_000,
    exportLinkMs: positive(env.EXPORT_LINK_SECONDS, 600) * 1000,
    jobRetryDelaySeconds: nonNegative(env.JOB_RETRY_DELAY_SECONDS, 5),
    // /metrics has series of their own for at most this many tenants (the busiest of the last hour).
    metricsTopTenants: Math.floor(nonNegative(env.METRICS_TOP_TENANTS, 50)),
    // A tenant's per-minute metrics are kept this long (the 7-day window of its metrics and a day more).
    metricsRetentionMs: positive(env.METRICS_RETENTION_DAYS, 8) * 86_400_000,
    // Shard calls at least this slow are logged for GET /v1/shards/:id/slow-queries (0 logs every call).
    slowQueryMs: nonNegative(env.SLOW_QUERY_MS, 500),
    // Webhook messages and their attempts are kept this long after their last change.
    webhookRetentionMs: positive(env.WEBHOOK_RETENTION_DAYS, 30) * 86_400_000,
    // A soft-deleted tenant can be restored this long; the daily purge removes it after.
    deletionGraceMs: positive(env.TENANT_DELETION_GRACE_DAYS, 30) * 86_400_000,
    // A trial tenant whose trial has ended and whose keys nobody has used this long is archived.
    archiveInactiveMs: positive(env.ARCHIVE_INACTIVE_DAYS, 90) * 86_400_000,
    // Past every request that may still use the old route: its deadline plus a route's staleness.
    moveCleanupDelaySeconds: Math.ceil(
      positive(env.MOVE_CLEANUP_DELAY_SECONDS, (shardTimeoutMs + gateMaxStalenessMs) / 1000 + 5),
    ),
  };
};
