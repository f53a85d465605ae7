/** A message of the lifecycle queue that runs one step of a tenant move. */
export type MoveStepMessage = { kind: "move-step"; moveId: string };

export const isMoveStep = (body: unknown): body is MoveStepMessage =>
  typeof body === "object" &&
  body !== null &&
  (body as MoveStepMessage).kind === "move-step" &&
  typeof (body as MoveStepMessage).moveId === "string";

export function enqueueMoveStep(env: Env, moveId: string, delaySeconds = 0) {
  const message: MoveStepMessage = { kind: "move-step", moveId };
  return env.LIFECYCLE_QUEUE.send(message, delaySeconds > 0 ? { delaySeconds } : undefined);
}
