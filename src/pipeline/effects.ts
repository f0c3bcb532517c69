import type { GatewayEventBus, GatewayEvents } from '../events.js';

/**
 * What a unit of work did, told only once its transaction has committed: the events to
 * emit and the lines to log. A transaction that rolls back drops them, so nobody hears of
 * a change that did not happen.
 */
export class Effects {
  readonly #pending: ((bus: GatewayEventBus) => void)[] = [];

  emit<K extends keyof GatewayEvents>(event: K, payload: GatewayEvents[K]): void {
    this.#pending.push((bus) => bus.emit(event, payload));
  }

  /** Runs `fn` after the commit (a log line). */
  after(fn: () => void): void {
    this.#pending.push(() => fn());
  }

  release(bus: GatewayEventBus): void {
    for (const effect of this.#pending.splice(0)) effect(bus);
  }
}
