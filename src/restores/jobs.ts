import { defineJob } from "../jobs/kind";
import { runRestoreStep } from "./job";
import { restoreStepMessage } from "./messages";

export const restoreStep = defineJob(restoreStepMessage, {
  run: (env, { restoreId, seq }) => runRestoreStep(env, restoreId, seq),
  logFields: ({ restoreId }) => ({ restore_id: restoreId }),
});
