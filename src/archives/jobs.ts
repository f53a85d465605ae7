import { defineJob } from "../jobs/kind";
import { runArchiveStep } from "./job";
import { archiveStepMessage } from "./messages";

export const archiveStep = defineJob(archiveStepMessage, {
  run: (env, { archiveId, seq }) => runArchiveStep(env, archiveId, seq),
  logFields: ({ archiveId }) => ({ archive_id: archiveId }),
});
