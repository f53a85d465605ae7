import { AppError } from "../http/problems";
import type { ShardStore } from "./store";

/** Did the shard fail, as opposed to answering with a domain outcome (404, 409, 412, quota…)? */
const shardFailed = (error: unknown) => !(error instanceof AppError) || error.type === "shard-unavailable";

/** Whether a request called its shard, and whether a call failed. */
export type Calls = { called: boolean; failed: boolean };

/**
 * The store as the handler sees it, noting in `calls` whether the shard was called and whether a
 * call failed. Only the shard's own calls count for its circuit: a request refused before it
 * asked the shard (a body the validator refuses, say) counts neither as a failure nor as a success.
 */
export function watched(store: ShardStore, calls: Calls): ShardStore {
  return watch(store, calls);
}

/** `target`'s methods noted in `calls`, and those of the statement groups it holds (`feed`, `trail`). */
function watch<T extends object>(target: T, calls: Calls): T {
  return new Proxy(target, {
    get(target, property, receiver) {
      const member = Reflect.get(target, property, receiver);
      if (typeof member === "object" && member !== null) return watch(member, calls);
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        const result = member.apply(target, args);
        if (!(result instanceof Promise)) return result;
        calls.called = true;
        return result.catch((error: unknown) => {
          if (shardFailed(error)) calls.failed = true;
          throw error;
        });
      };
    },
  });
}
