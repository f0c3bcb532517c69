/**
 * Runs an action once a burst of triggers has gone quiet: `trigger()` (re)starts a timer of
 * `ms`, and the action runs when it expires with no trigger since. File watchers use it: an
 * editor's save is several events, and one reload should follow them all.
 *
 * Real time (setTimeout), not the gateway's injected clock: it waits out file-system
 * noise, no part of what the gateway decides.
 */
export class Debounce {
  #timer: NodeJS.Timeout | undefined;

  /** `unref`: the pending timer does not keep the process alive. */
  constructor(
    readonly ms: number,
    private readonly action: () => void,
    private readonly options: { unref?: boolean } = {},
  ) {}

  /** Runs the action `ms` from now, replacing any run still pending. */
  trigger(): void {
    this.cancel();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.action();
    }, this.ms);
    if (this.options.unref) this.#timer.unref();
  }

  /** Drops the pending run, if any. */
  cancel(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
