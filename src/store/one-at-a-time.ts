import type { Repositories } from './store.js';

/** Tasks run one after another in the order asked; a failed one does not stop those after it. */
export class OneAtATime {
  #tail: Promise<unknown> = Promise.resolve();
  #queued = 0;

  run<T>(task: () => Promise<T>): Promise<T> {
    this.#queued += 1;
    const result = this.#tail.then(task).finally(() => (this.#queued -= 1));
    // Its caller sees the failure; the queue goes on.
    this.#tail = result.catch(() => undefined);
    return result;
  }

  /** Tasks running or waiting their turn. */
  get queued(): number {
    return this.#queued;
  }

  /** Resolves when every task asked for so far has ended. */
  drained(): Promise<unknown> {
    return this.#tail;
  }
}

/**
 * The repository `name` with every call run as a transaction of its own (the bare
 * repositories on a store). Only the methods `methods` has are offered: anything else
 * (`then` when awaited, inspection) is not there.
 */
export function autocommit<K extends keyof Repositories>(
  name: K,
  methods: object,
  transaction: <T>(fn: (tx: Repositories) => Promise<T>) => Promise<T>,
): Repositories[K] {
  const has = methods as Record<PropertyKey, unknown>;
  return new Proxy({} as Repositories[K], {
    get(_target, property) {
      if (property === 'constructor' || typeof has[property] !== 'function') return undefined;
      return (...args: unknown[]) =>
        transaction((tx) => {
          const repository = tx[name] as unknown as Record<PropertyKey, (...a: unknown[]) => Promise<unknown>>;
          return repository[property]!.apply(repository, args);
        });
    },
  });
}
