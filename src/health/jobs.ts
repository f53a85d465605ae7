import { defineJob } from "../jobs/kind";
import { readinessProbeMessage } from "./messages";

/** A readiness probe has done its work once the queue took it. */
export const readinessProbe = defineJob(readinessProbeMessage, { run: async () => undefined });
