/** One commit as the caller waited for it: the inbox hand-off (`accept`, group commit) or a `transaction`. */
export interface CommitTime {
  kind: 'accept' | 'transaction';
  /** From the call until durable (queueing behind other work and the flush included). */
  seconds: number;
}

export type CommitObserver = (commit: CommitTime) => void;

/**
 * The store's commit latency for whoever listens (the app turns it into an event, metrics
 * into a histogram). Costs nothing while nobody listens; failed commits are not timed
 * (the store's health says why they fail).
 */
export class CommitTiming {
  readonly #observers = new Set<CommitObserver>();

  observe(observer: CommitObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  time<T>(kind: CommitTime['kind'], run: () => Promise<T>): Promise<T> {
    if (this.#observers.size === 0) return run();
    const start = performance.now();
    return run().then((result) => {
      const seconds = (performance.now() - start) / 1000;
      for (const observer of this.#observers) observer({ kind, seconds });
      return result;
    });
  }
}
