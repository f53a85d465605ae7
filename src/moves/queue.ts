/**
 * A message of the lifecycle queue that runs one step of a tenant move. `seq` is the move's step
 * count when it was queued: once a step has claimed the move, other messages of that count are
 * stale. (Messages queued before steps were counted carry none and are taken as current.)
 */
export type MoveStepMessage = { kind: "move-step"; moveId: string; seq?: number };

export const isMoveStep = (body: unknown): body is MoveStepMessage =>
  typeof body === "object" &&
  body !== null &&
  (body as MoveStepMessage).kind === "move-step" &&
  typeof (body as MoveStepMessage).moveId === "string" &&
  ((body as MoveStepMessage).seq === undefined || Number.isInteger((body as MoveStepMessage).seq));

export function enqueueMoveStep(env: Env, moveId: string, seq: number, delaySeconds = 0) {
  const message: MoveStepMessage = { kind: "move-step", moveId, seq };
  return env.LIFECYCLE_QUEUE.send(message, delaySeconds > 0 ? { delaySeconds } : undefined);
}
