import type { TenantRoute } from "../routing/route";
import type { CircuitStatus, Dependency, Outcome, PolicyState } from "./protocol";

/** What the gate decided for this request, and what the request reports back on release. */
export type GateSession = {
  tenantId: string;
  route: TenantRoute;
  leaseId: string;
  /** Admitted as a data write (the route writes the shard), past any move's fence. */
  write: boolean;
  policies: PolicyState[];
  circuits: Partial<Record<Dependency, CircuitStatus>>;
  outcomes: Outcome[];
};
