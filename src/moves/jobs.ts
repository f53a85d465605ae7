import { z } from "zod";
import { defineKind } from "../jobs/kind";
import { runMoveStep } from "./job";

/**
 * One step of a tenant move. `seq` is the move's step count when it was queued: once a step has
 * claimed the move, other messages of that count are stale. (Messages queued before steps were
 * counted carry none and are taken as current.)
 */
export const moveStep = defineKind({
  name: "move-step",
  body: z.object({ moveId: z.string(), seq: z.int().optional() }),
  run: (env, { moveId, seq }) => runMoveStep(env, moveId, seq),
  logFields: ({ moveId }) => ({ move_id: moveId }),
});
