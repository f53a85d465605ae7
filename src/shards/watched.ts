import type { ShardTiming } from "../gate/protocol";
import { AppError } from "../http/problems";
import type { ShardStore } from "./store";

/** Did the shard fail, as opposed to answering with a domain outcome (404, 409, 412, quota…)? */
const shardFailed = (error: unknown) => !(error instanceof AppError) || error.type === "shard-unavailable";

/** Whether a request called its shard, whether a call failed, and each call's method and duration. */
export type Calls = { called: boolean; failed: boolean; timings?: ShardTiming[] };

/**
 * The store as the handler sees it, noting in `calls` whether the shard was called and whether a
 * call failed. Only the shard's own calls count for its circuit: a request refused before it
 * asked the shard (a body the validator refuses, say) counts neither as a failure nor as a success.
 */
export function watched(store: ShardStore, calls: Calls): ShardStore {
  return watch(store, calls, "");
}

/**
 * `target`'s methods noted in `calls`, and those of the statement groups it holds (`feed`,
 * `trail`), each call timed under its method's name (`feed.page`): a name, never an argument.
 */
function watch<T extends object>(target: T, calls: Calls, prefix: string): T {
  return new Proxy(target, {
    get(target, property, receiver) {
      const member = Reflect.get(target, property, receiver);
      const name = `${prefix}${String(property)}`;
      if (typeof member === "object" && member !== null) return watch(member, calls, `${name}.`);
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        const started = performance.now();
        const result = member.apply(target, args);
        if (!(result instanceof Promise)) return result;
        calls.called = true;
        const timed = (failed: boolean) =>
          calls.timings?.push({ name, ms: Math.round((performance.now() - started) * 100) / 100, failed });
        return result.then(
          (value: unknown) => {
            timed(false);
            return value;
          },
          (error: unknown) => {
            const failed = shardFailed(error);
            if (failed) calls.failed = true;
            timed(failed);
            throw error;
          },
        );
      };
    },
  });
}
