import { DurableObject } from "cloudflare:workers";
import { FailureLog, type FailureVerdict } from "../src/auth/failure-log";

/**
 * One per subject of failed authentications (`idFromName("key:<prefix>")`, `"ip:<address>"`):
 * a Durable Object runs one event at a time, so its count is exact across isolates and colos.
 * It keeps the count in memory only: a subject under attack keeps its object alive, and an
 * idle one forgets nothing that is still inside the minute.
 */
export class AuthThrottle extends DurableObject<Env> {
  private readonly log = new FailureLog();

  /** Records one failed authentication, unless the subject is already throttled. */
  fail(limit: number): FailureVerdict {
    return this.log.fail(Date.now(), limit);
  }
}
