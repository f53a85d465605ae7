import { DrizzleQueryError } from "drizzle-orm";

/**
 * The driver's errors behind `error`, outermost first. drizzle's wrapper is skipped: its message
 * carries the statement's parameters, data that could spell anything.
 */
export function* driverErrors(error: unknown): Generator<Error> {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if (!(cause instanceof DrizzleQueryError)) yield cause;
  }
}

/** Did the database refuse the statement with a message matching `pattern`? */
export const refusedWith = (error: unknown, pattern: RegExp) =>
  [...driverErrors(error)].some((cause) => pattern.test(cause.message));

/**
 * An error as a log line may carry it: drizzle appends a failed statement's bound parameters
 * (tenant data, addresses, emails) after "params:", which never go to a log.
 */
export const errorText = (error: unknown) => String(error).split("\nparams:")[0] as string;
