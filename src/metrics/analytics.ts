import type { RequestSample } from "../gate/protocol";

/**
 * The Analytics Engine data point of one tenant request (binding METRICS_AE), the schema the
 * README documents: sampled by tenant (index1); blob1 tenant id, blob2 tier ("" when the gate
 * refused the key before naming it), blob3 method, blob4 route template, blob5 status class
 * ("2xx"…), blob6 gate decision; double1 status, double2 latency in ms, double3 response bytes.
 */
export function analyticsPoint(tenantId: string, tier: string | null, sample: RequestSample): AnalyticsEngineDataPoint {
  return {
    indexes: [tenantId],
    blobs: [tenantId, tier ?? "", sample.method, sample.route, `${Math.floor(sample.status / 100)}xx`, sample.decision],
    doubles: [sample.status, sample.ms, sample.bytes],
  };
}
