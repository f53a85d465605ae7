import { z } from "zod";
import { defineMessage } from "../jobs/kind";

/** One bounded pass of purging a deleted tenant (src/lifecycle/purge.ts); it queues the next until done. */
export const purgeTenantMessage = defineMessage("purge-tenant", z.object({ tenantId: z.string() }));
