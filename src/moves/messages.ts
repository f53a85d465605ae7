import { z } from "zod";
import { defineMessage } from "../jobs/kind";

/**
 * One step of a tenant move. `seq` is the move's step count when it was queued: once a step has
 * claimed the move, other messages of that count are stale. (Messages queued before steps were
 * counted carry none and are taken as current.)
 */
export const moveStepMessage = defineMessage("move-step", z.object({ moveId: z.string(), seq: z.int().optional() }));
