import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { SEVERITIES } from '../config/schema.js';
import type { GatewayEventBus } from '../events.js';
import type { Store } from '../store/store.js';
import type { MetricsSource } from './operator-routes.js';

/**
 * `/metrics` (Prometheus text, prom-client). Counters follow the typed event map
 * (src/events.ts), so nothing in the road calls into metrics; gauges are read from the
 * store at scrape time, one cheap query each. A registry of its own per gateway: tests run
 * several gateways in one process, and prom-client's global registry would mix them.
 */
export interface GatewayMetricsOptions {
  events: GatewayEventBus;
  store: Pick<Store, 'alarms' | 'outbox' | 'health'>;
  /** Whether this gateway leads now (run/leadership.ts). */
  leading: () => boolean;
  now: () => number;
  /** Names known from the configuration: their series start at 0, so `rate()` sees the first message. */
  listeners: readonly string[];
  brokers: readonly string[];
  accounts: readonly string[];
}

export interface GatewayMetrics extends MetricsSource {
  readonly registry: Registry;
  /** Stops listening to the events. */
  stop(): void;
}

export function gatewayMetrics(options: GatewayMetricsOptions): GatewayMetrics {
  const { events, store } = options;
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  /**
   * A failing store must not fail the scrape: the store's gauges keep their last values and
   * annunciator_store_healthy says why they do not move (the health check logs the cause).
   */
  const storeRead = async <T>(read: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await read();
    } catch {
      return undefined;
    }
  };

  const messages = new Counter({
    name: 'annunciator_messages_received_total',
    help: 'Messages from SMTP listeners by listener and outcome: accepted (the device heard 250), rejected (kept as rejected; reason unusable or error).',
    labelNames: ['listener', 'outcome', 'reason'] as const,
    registers,
  });
  const mqttMessages = new Counter({
    name: 'annunciator_mqtt_messages_total',
    help: 'Messages from MQTT brokers by broker and outcome: accepted (PUBACK sent or QoS 0 taken), rejected (kept as rejected; reason unusable or error).',
    labelNames: ['broker', 'outcome', 'reason'] as const,
    registers,
  });
  const queued = new Counter({ name: 'annunciator_notifications_queued_total', help: 'Notifications queued in the outbox (the account is chosen at delivery).', registers });
  const notifications = new Counter({
    name: 'annunciator_notifications_total',
    help: 'Delivery attempts by account and outcome: delivered, deferred (retried later), failed (for good). account is empty when no account could be tried.',
    labelNames: ['account', 'outcome'] as const,
    registers,
  });
  new Gauge({
    name: 'annunciator_alarms_active',
    help: 'Active alarms by severity (read from the store at scrape time).',
    labelNames: ['severity'] as const,
    registers,
    async collect() {
      const counts = await storeRead(() => store.alarms.activeBySeverity());
      if (counts) for (const severity of SEVERITIES) this.set({ severity }, counts[severity] ?? 0);
    },
  });
  // Both outbox gauges are collected at once (prom-client collects every metric of a scrape
  // together): they share one query while it is under way, so they agree and cost one read.
  let pendingRead: ReturnType<typeof readPending> | undefined;
  const readPending = () => storeRead(() => store.outbox.pendingSummary());
  const pendingSummary = () => (pendingRead ??= readPending().finally(() => (pendingRead = undefined)));
  new Gauge({
    name: 'annunciator_outbox_pending',
    help: 'Notifications waiting in the outbox (pending).',
    registers,
    async collect() {
      const summary = await pendingSummary();
      if (summary) this.set(summary.count);
    },
  });
  new Gauge({
    name: 'annunciator_outbox_oldest_pending_age_seconds',
    help: 'Age of the oldest pending notification in the outbox (0 when none waits).',
    registers,
    async collect() {
      const summary = await pendingSummary();
      if (summary) this.set(summary.oldestCreatedAt === undefined ? 0 : Math.max(0, options.now() - summary.oldestCreatedAt) / 1000);
    },
  });
  new Gauge({
    name: 'annunciator_store_healthy',
    help: '1 when the store takes work, 0 when it does not (full, read-only, deleted, unreachable).',
    registers,
    collect() {
      this.set(store.health().ok ? 1 : 0);
    },
  });
  new Gauge({
    name: 'annunciator_leader',
    help: '1 when this gateway leads (runs timers, reply watchers, retained MQTT state); always 1 on the SQLite file.',
    registers,
    collect() {
      this.set(options.leading() ? 1 : 0);
    },
  });

  for (const listener of options.listeners) messages.inc({ listener, outcome: 'accepted', reason: '' }, 0);
  for (const broker of options.brokers) mqttMessages.inc({ broker, outcome: 'accepted', reason: '' }, 0);
  for (const account of options.accounts) for (const outcome of ['delivered', 'deferred', 'failed']) notifications.inc({ account, outcome }, 0);

  const stops = [
    events.on('received', ({ received }) => {
      if (received.mqtt) mqttMessages.inc({ broker: received.listener, outcome: 'accepted', reason: '' });
      else messages.inc({ listener: received.listener, outcome: 'accepted', reason: '' });
    }),
    events.on('rejected', ({ received, kind }) => {
      if (received.mqtt) mqttMessages.inc({ broker: received.listener, outcome: 'rejected', reason: kind });
      else messages.inc({ listener: received.listener, outcome: 'rejected', reason: kind });
    }),
    events.on('queued', ({ outboxIds }) => queued.inc(outboxIds.length)),
    events.on('delivered', ({ account }) => notifications.inc({ account, outcome: 'delivered' })),
    events.on('deferred', ({ account }) => notifications.inc({ account: account ?? '', outcome: 'deferred' })),
    events.on('failed', ({ account }) => notifications.inc({ account: account ?? '', outcome: 'failed' })),
  ];

  return {
    registry,
    contentType: registry.contentType,
    text: () => registry.metrics(),
    stop: () => stops.forEach((stop) => stop()),
  };
}
