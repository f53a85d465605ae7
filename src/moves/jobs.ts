import { defineJob } from "../jobs/kind";
import { runMoveStep } from "./job";
import { moveStepMessage } from "./messages";

export const moveStep = defineJob(moveStepMessage, {
  run: (env, { moveId, seq }) => runMoveStep(env, moveId, seq),
  logFields: ({ moveId }) => ({ move_id: moveId }),
});
