import { z } from "zod";
import { defineMessage } from "../jobs/kind";

/**
 * One step of making an archive (src/archives/job.ts). `seq` is the archive's step count when it
 * was queued: once a step has claimed the archive, other messages of that count are stale.
 */
export const archiveStepMessage = defineMessage("archive-step", z.object({ archiveId: z.string(), seq: z.int() }));
