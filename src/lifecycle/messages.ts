import { z } from "zod";
import { defineMessage } from "../jobs/kind";

/** One bounded pass of purging a deleted tenant (src/lifecycle/purge.ts); it queues the next until done. */
export const purgeTenantMessage = defineMessage("purge-tenant", z.object({ tenantId: z.string() }));

/** Archives one tenant found inactive by the archival run started at `at` (src/lifecycle/archival.ts). */
export const archiveTenantMessage = defineMessage("archive-tenant", z.object({ tenantId: z.string(), at: z.int() }));
