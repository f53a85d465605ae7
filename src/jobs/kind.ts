import type { z } from "zod";

/**
 * A kind of lifecycle-queue message: its name, the schema of its body, and the job that runs it.
 * On the queue a body travels as its own fields with `kind` beside them, the shape messages had
 * before kinds were declared, so messages already queued still read.
 */
export type JobKind<Name extends string = string, Body extends z.ZodObject = z.ZodObject> = {
  name: Name;
  body: Body;
  /** Runs one message. A throw leaves the message to the queue's retries. */
  run(env: Env, body: z.output<Body>): Promise<void>;
  /** Fields that name what a failed message was about, for its log line (never a secret). */
  logFields?(body: z.output<Body>): Record<string, unknown>;
};

/**
 * Declares a kind beside the job it runs; src/jobs/registry.ts lists it.
 *
 * @example
 * export const purgeTenant = defineKind({
 *   name: "purge-tenant",
 *   body: z.object({ tenantId: z.string() }),
 *   run: (env, { tenantId }) => purge(env, tenantId),
 * });
 */
export const defineKind = <Name extends string, Body extends z.ZodObject>(kind: JobKind<Name, Body>) => kind;
