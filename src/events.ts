import type { Received } from './ingest/received.js';
import type { SmtpRefusal } from './ingest/smtp/smtp-listener.js';
import type { AlarmAck, Alarm, Decision } from './lifecycle/alarm.js';
import type { OutboxRecord } from './store/store.js';
import type { Logger } from './log/logger.js';

/**
 * What happens in the gateway, as typed events: the MQTT state publisher, the loops that
 * wake each other, metrics, the console and tests listen here instead of passing `onX`
 * callbacks around. Every event is emitted after the change it reports was committed.
 */
export interface GatewayEvents {
  /**
   * A message is in the inbox (the device heard 250 or got its PUBACK). Its `raw` bytes are
   * the store's now (store.ts) and read as empty once the inbox runner is done with them:
   * a listener that needs them reads them from the store.
   */
  received: { received: Received };
  /** An SMTP listener refused a device (a 4xx or 5xx reply at connect, AUTH, MAIL, RCPT or DATA, or the session limit). */
  'smtp-refused': SmtpRefusal;
  /** A message gave no alarm and was kept as rejected: `unusable` (no rule could read it) or `error` (processing it failed). */
  rejected: { received: Received; reason: string; kind: 'unusable' | 'error' };
  /** An alarm was raised, counted, muted, released, escalated, resolved, acknowledged, unacknowledged or commented on. */
  'alarm-changed': { alarm: Alarm; outcome: Decision['outcome'] | 'acknowledged' | 'unacknowledged' | 'commented'; reason: string };
  /** Notifications were held for a group or digest. */
  held: { alarmIds: string[] };
  /** Notifications were queued in the outbox. */
  queued: { outboxIds: string[] };
  /** Someone asked for notifications to be tried again now (API, console): the delivery worker wakes. Not counted as queued again. */
  'retry-requested': { outboxIds: string[] | 'all' };
  /** An upstream accepted a notification. */
  delivered: { entry: OutboxRecord; account: string };
  /** A delivery failed for now and is retried at `retryAt`; `account` is the last one tried (null: none could be). */
  deferred: { entry: OutboxRecord; reason: string; retryAt: number; account: string | null };
  /** A delivery failed for good; `account` as for `deferred`. */
  failed: { entry: OutboxRecord; reason: string; account: string | null };
  /** An acknowledgement was recorded (the first one for its alarm). */
  acknowledged: { alarm: Alarm; ack: AlarmAck };
  /** A timer was stored or re-armed (its runner may need to wake sooner). */
  'timer-armed': { kind: string; dueAt: number };
  /** Retention deleted what is done and old (how many of each). */
  pruned: { messages: number; notifications: number; alarms: number; batches: number; timers: number };
  /** This gateway took the lead (run/leadership.ts): it runs the timers, reply watchers and retained MQTT state now. `gateway` is absent on the SQLite file, where it always leads. */
  'leadership-gained': { gateway: string | undefined };
  /** This gateway lost the lead (its control connection went, or the database cannot be reached): those parts stop at once. */
  'leadership-lost': { gateway: string | undefined; reason: string };
  /** A timer fired; `lateBy` ms after its due time. */
  'timer-fired': { kind: string; key: string; lateBy: number };
}

type Listener<K extends keyof GatewayEvents> = (payload: GatewayEvents[K]) => void;

export class GatewayEventBus {
  readonly #listeners = new Map<keyof GatewayEvents, Set<Listener<never>>>();

  constructor(private readonly logger?: Logger) {}

  /** Listens to one event; the returned function stops listening. */
  on<K extends keyof GatewayEvents>(event: K, listener: Listener<K>): () => void {
    let set = this.#listeners.get(event);
    if (!set) {
      set = new Set();
      this.#listeners.set(event, set);
    }
    set.add(listener as Listener<never>);
    return () => set.delete(listener as Listener<never>);
  }

  /** Resolves with the first event of its kind that `match` accepts. */
  once<K extends keyof GatewayEvents>(event: K, match: (payload: GatewayEvents[K]) => boolean = () => true): Promise<GatewayEvents[K]> {
    return new Promise((resolve) => {
      const off = this.on(event, (payload) => {
        if (!match(payload)) return;
        off();
        resolve(payload);
      });
    });
  }

  /** How many listen to an event now (a stream that went must have stopped listening). */
  listenerCount(event: keyof GatewayEvents): number {
    return this.#listeners.get(event)?.size ?? 0;
  }

  emit<K extends keyof GatewayEvents>(event: K, payload: GatewayEvents[K]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      try {
        (listener as Listener<K>)(payload);
      } catch (error) {
        // A listener's failure is its own: the change is committed, the others still hear of it.
        this.logger?.error({ err: error, event }, 'an event listener failed');
      }
    }
  }
}
