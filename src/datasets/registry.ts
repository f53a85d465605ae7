import { archiveRecords } from "../archives/dataset";
import { auditCheckpointSet, auditTrail } from "../audit/dataset";
import { tenantDeadLetters } from "../dead-letters/dataset";
import { entryData, entryTagIndex } from "../entries/dataset";
import { controlOutbox, eventFeed, feedCursor } from "../events/dataset";
import { tenantFlagOverrides } from "../flags/dataset";
import { circuitStateRecords, gateState } from "../gate/dataset";
import { idempotencyData } from "../http/idempotency-dataset";
import { keyMetadata } from "../keys/dataset";
import { tenantMetricMinutes, tenantMetricTotals, tenantSlowQueries } from "../metrics/dataset";
import { moveHistory } from "../moves/dataset";
import { quotaTripRecords } from "../quotas/dataset";
import { restoreHistory } from "../restores/dataset";
import { shardRegistration } from "../shards/dataset";
import { tenantStreamCounters, tenantStreamTickets } from "../stream/dataset";
import { tenantRow } from "../tenants/dataset";
import { usageDays, usageHours, usageRecordIds } from "../usage/dataset";
import { tenantUsers } from "../users/dataset";
import { tenantWebhookAttempts, tenantWebhookEndpoints, tenantWebhookMessages } from "../webhooks/dataset";
import type { Dataset, TableDataset } from "./dataset";

/**
 * Every kind of tenant-owned data, wherever it lives. Export, deletion, archival and moves walk
 * this list, so a table left out of it would be missed by all of them; test/datasets/registry.test.ts
 * fails on any table with a tenant id that no dataset declares. In dependency order: a dataset's
 * rows may refer to those of the datasets before it (keys to users, users to the tenant).
 */
export const DATASETS: readonly Dataset[] = [
  tenantRow,
  tenantUsers,
  keyMetadata,
  moveHistory,
  archiveRecords,
  restoreHistory,
  idempotencyData,
  controlOutbox,
  feedCursor,
  tenantDeadLetters,
  tenantMetricMinutes,
  tenantMetricTotals,
  tenantSlowQueries,
  usageRecordIds,
  usageHours,
  usageDays,
  quotaTripRecords,
  circuitStateRecords,
  tenantFlagOverrides,
  tenantWebhookEndpoints,
  tenantWebhookMessages,
  tenantWebhookAttempts,
  tenantStreamTickets,
  tenantStreamCounters,
  entryData,
  entryTagIndex,
  eventFeed,
  auditTrail,
  auditCheckpointSet,
  shardRegistration,
  gateState,
];

const isTable = (dataset: Dataset): dataset is TableDataset => dataset.home !== "gate";

/** The datasets of one home whose rows are data in their own right (not derived by triggers). */
export const datasetsIn = (home: "control" | "shard"): TableDataset[] =>
  DATASETS.filter(isTable).filter((dataset) => dataset.home === home && dataset.derivedFrom === undefined);
