import { z } from "zod";
import { defineMessage } from "../jobs/kind";

/** The readiness check's message: it proves the lifecycle queue takes messages; its job does nothing. */
export const readinessProbeMessage = defineMessage("readiness-probe", z.object({ at: z.number().int() }));
