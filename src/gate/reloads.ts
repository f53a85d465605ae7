type Run = { keyIds: ReadonlySet<string>; done: Promise<void> };
type Waiting = { keyIds: Set<string>; done: Promise<void>; settle: (run: Run) => void };

/**
 * Coalesces a gate's reloads of its control-data copy. Concurrent callers share a reload only
 * when it answers their question: a caller who needs key K joins a running reload only if that
 * reload asks for K, and a caller told of a change (`fresh`) only a reload that starts after it
 * asked, since a running one may have read before the change committed. Everyone else waits
 * for the single follow-up reload, which asks for all of their keys at once.
 */
export class Reloads {
  private running: Run | null = null;
  private waiting: Waiting | null = null;

  /**
   * @param known the key ids the copy holds now; every reload asks for them again
   * @param load reloads the copy with these key ids
   * @param maxKeys a reload asks for at most this many keys, the requested ones first
   */
  constructor(
    private readonly known: () => Iterable<string>,
    private readonly load: (keyIds: string[]) => Promise<void>,
    private readonly maxKeys: number,
  ) {}

  /** Resolves once a reload that asks for `keyId` (and, if `fresh`, started after this call) is done. */
  request(keyId?: string, fresh = false): Promise<void> {
    const running = this.running;
    if (!running) return this.start(keyId === undefined ? [] : [keyId]).done;
    if (!fresh && (keyId === undefined || running.keyIds.has(keyId))) return running.done;
    if (!this.waiting) {
      let settle!: (run: Run) => void;
      const done = new Promise<void>((resolve, reject) => {
        settle = (run) => run.done.then(resolve, reject);
      });
      this.waiting = { keyIds: new Set(), done, settle };
    }
    if (keyId !== undefined) this.waiting.keyIds.add(keyId);
    return this.waiting.done;
  }

  private start(requested: Iterable<string>): Run {
    const wanted = new Set(requested);
    const others = [...this.known()].filter((id) => !wanted.has(id));
    const keyIds = [...others, ...wanted].slice(-this.maxKeys);
    const run: Run = {
      keyIds: new Set(keyIds),
      done: this.load(keyIds).finally(() => {
        this.running = null;
        const next = this.waiting;
        this.waiting = null;
        // Started here, synchronously, so no caller can slip a second reload in beside it.
        if (next) next.settle(this.start(next.keyIds));
      }),
    };
    this.running = run;
    return run;
  }
}
