import type { z } from "zod";

/**
 * A kind of lifecycle-queue message: its name and the schema of its body. Declared on its own
 * (no job attached), so the code that queues it never imports the job that runs it. On the queue
 * a body travels as its own fields with `kind` beside them.
 */
export type MessageKind<Name extends string = string, Body extends z.ZodObject = z.ZodObject> = {
  name: Name;
  body: Body;
};

/** A message kind with the job that runs it; src/jobs/registry.ts lists every one. */
export type JobKind<Name extends string = string, Body extends z.ZodObject = z.ZodObject> = MessageKind<Name, Body> & {
  /** Runs one message. A throw leaves the message to the queue's retries. */
  run(env: Env, body: z.output<Body>): Promise<void>;
  /** Fields that name what a failed message was about, for its log line (never a secret). */
  logFields?(body: z.output<Body>): Record<string, unknown>;
};

/**
 * Declares a message kind, in the domain that queues it.
 *
 * @example
 * export const purgeTenantMessage = defineMessage("purge-tenant", z.object({ tenantId: z.string() }));
 */
export const defineMessage = <Name extends string, Body extends z.ZodObject>(name: Name, body: Body) => ({
  name,
  body,
});

/**
 * Attaches the job that runs a message kind (in the domain's jobs.ts); the registry lists the result.
 *
 * @example
 * export const purgeTenant = defineJob(purgeTenantMessage, { run: (env, { tenantId }) => purge(env, tenantId) });
 */
export const defineJob = <Name extends string, Body extends z.ZodObject>(
  message: MessageKind<Name, Body>,
  job: Pick<JobKind<Name, Body>, "run" | "logFields">,
): JobKind<Name, Body> => ({ ...message, ...job });
