import { z } from "zod";
import { defineMessage } from "../jobs/kind";

/** One step of a restore (src/restores/job.ts); `seq` as for archive steps. */
export const restoreStepMessage = defineMessage("restore-step", z.object({ restoreId: z.string(), seq: z.int() }));
