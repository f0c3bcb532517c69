import type { GatewayEventBus } from '../events.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';

/** One upstream account as the operator sees it: when it last took a notification, and its last error. */
export interface AccountHealth {
  account: string;
  /** When an upstream last accepted a notification through it (ms). */
  lastSuccessAt: number | undefined;
  /** The last delivery error on it (deferred or failed), with when. */
  lastError: { message: string; at: number } | undefined;
}

export interface DeliveryHealthOptions {
  events: GatewayEventBus;
  store: Pick<Store, 'outbox'>;
  now: () => number;
  logger?: Logger;
}

/**
 * Last success and last error per account, for `/metrics` and `GET /api/v1/delivery`.
 * Seeded once from what the outbox still holds (sent_at, last_error of entries not sent,
 * by last_account), so a restart does not forget them, then kept live from the event map;
 * an event newer than the seed wins. Accounts a reload removed stay until the restart.
 */
export class DeliveryHealth {
  readonly #accounts = new Map<string, AccountHealth>();
  readonly #stops: Array<() => void>;
  readonly #loaded: Promise<void>;

  constructor(private readonly options: DeliveryHealthOptions) {
    const { events, now } = options;
    this.#stops = [
      // The times and the error as the outbox recorded them, so that a restart reads back the same.
      events.on('delivered', ({ entry, account }) => this.#success(account, entry.sentAt ?? now())),
      events.on('deferred', ({ entry, account, reason }) => account !== null && this.#error(account, entry.lastError ?? reason, entry.updatedAt)),
      events.on('failed', ({ entry, account, reason }) => account !== null && this.#error(account, entry.lastError ?? reason, entry.updatedAt)),
    ];
    this.#loaded = this.#load();
  }

  /** Resolves when the seed from the store is in (it never rejects: a failed read is logged, the live events still count). */
  loaded(): Promise<void> {
    return this.#loaded;
  }

  /** Every account heard of, by name. */
  accounts(): AccountHealth[] {
    return [...this.#accounts.values()].map((a) => ({ ...a, ...(a.lastError ? { lastError: { ...a.lastError } } : {}) })).sort((a, b) => a.account.localeCompare(b.account));
  }

  get(account: string): AccountHealth | undefined {
    return this.accounts().find((a) => a.account === account);
  }

  stop(): void {
    this.#stops.forEach((stop) => stop());
  }

  async #load(): Promise<void> {
    try {
      for (const record of await this.options.store.outbox.accountRecords()) {
        if (record.lastSentAt !== undefined) this.#success(record.account, record.lastSentAt);
        if (record.lastError) this.#error(record.account, record.lastError.message, record.lastError.at);
      }
    } catch (error) {
      this.options.logger?.warn({ err: error }, 'cannot read the last deliveries from the outbox; delivery health starts from what happens now');
    }
  }

  #entry(account: string): AccountHealth {
    let entry = this.#accounts.get(account);
    if (!entry) {
      entry = { account, lastSuccessAt: undefined, lastError: undefined };
      this.#accounts.set(account, entry);
    }
    return entry;
  }

  #success(account: string, at: number): void {
    const entry = this.#entry(account);
    if (entry.lastSuccessAt === undefined || at > entry.lastSuccessAt) entry.lastSuccessAt = at;
  }

  #error(account: string, message: string, at: number): void {
    const entry = this.#entry(account);
    if (entry.lastError === undefined || at >= entry.lastError.at) entry.lastError = { message, at };
  }
}
