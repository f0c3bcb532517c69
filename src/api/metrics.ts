import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { VERSION } from '../base/version.js';
import { SEVERITIES } from '../config/schema.js';
import type { GatewayEventBus } from '../events.js';
import type { TimerKind } from '../lifecycle/timer.js';
import type { ActiveAlarmCount, Store } from '../store/store.js';
import type { DeliveryHealth } from './delivery-health.js';
import type { MetricsSource } from './operator-routes.js';

/**
 * `/metrics` (Prometheus text, prom-client). Counters follow the typed event map
 * (src/events.ts), so nothing in the road calls into metrics; gauges are read from the
 * store at scrape time, one cheap query each. A registry of its own per gateway: tests run
 * several gateways in one process, and prom-client's global registry would mix them.
 */
export interface GatewayMetricsOptions {
  events: GatewayEventBus;
  store: Pick<Store, 'alarms' | 'outbox' | 'timers' | 'health' | 'observeCommits' | 'backend'>;
  /** Last success and error per account (shared with `GET /api/v1/delivery`). */
  delivery: DeliveryHealth;
  /** Whether each broker's connection is up and subscribed, and each reply mailbox's IMAP session is open, by name (read at scrape time). */
  connections: () => { mqtt: Record<string, boolean>; imap: Record<string, boolean> };
  /** Whether this gateway leads now (run/leadership.ts). */
  leading: () => boolean;
  now: () => number;
  /** Names known from the configuration: their series start at 0, so `rate()` sees the first message. */
  listeners: readonly string[];
  brokers: readonly string[];
  accounts: readonly string[];
}

/** Every timer kind, so that each series starts at 0. */
const TIMER_KINDS = ['escalate', 'flush-batch', 'announce-ack', 'unmute', 'prune'] as const satisfies readonly TimerKind[];

/** Queued to accepted upstream: seconds on a LAN relay, minutes behind greylisting or an outage. */
const DELIVERY_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600];
/** A commit is a WAL append and an fsync on the SQLite file, a round trip or two on PostgreSQL. */
const COMMIT_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** An active alarm's state for `annunciator_alarms`: muted (a silence or an inhibition holds it) before acknowledged. */
function alarmState(count: ActiveAlarmCount): 'muted' | 'acknowledged' | 'unacknowledged' {
  return count.muted ? 'muted' : count.acknowledged ? 'acknowledged' : 'unacknowledged';
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
    help: 'Messages from SMTP listeners by listener and outcome: accepted (the device heard 250), rejected (kept as rejected; reason unusable or error), refused (the device got 4xx/5xx at the end of DATA; reason as in annunciator_smtp_refusals_total).',
    labelNames: ['listener', 'outcome', 'reason'] as const,
    registers,
  });
  const mqttMessages = new Counter({
    name: 'annunciator_mqtt_messages_total',
    help: 'Messages from MQTT brokers by broker and outcome: accepted (PUBACK sent or QoS 0 taken), rejected (kept as rejected; reason unusable or error).',
    labelNames: ['broker', 'outcome', 'reason'] as const,
    registers,
  });
  const refusals = new Counter({
    name: 'annunciator_smtp_refusals_total',
    help: 'SMTP replies that refused a device, by listener, stage (connect, auth, mail, rcpt, data, session), reply class (4xx: try again, 5xx: for good), code and reason.',
    labelNames: ['listener', 'stage', 'class', 'code', 'reason'] as const,
    registers,
  });
  const queued = new Counter({ name: 'annunciator_notifications_queued_total', help: 'Notifications queued in the outbox (the account is chosen at delivery).', registers });
  const notifications = new Counter({
    name: 'annunciator_notifications_total',
    help: 'Delivery attempts by account and outcome: delivered, deferred (retried later), failed (for good). account is empty when no account could be tried.',
    labelNames: ['account', 'outcome'] as const,
    registers,
  });
  const latency = new Histogram({
    name: 'annunciator_delivery_latency_seconds',
    help: 'From queued in the outbox to accepted by an upstream, by the account that delivered (retries and waits included).',
    labelNames: ['account'] as const,
    buckets: DELIVERY_BUCKETS,
    registers,
  });
  const commits = new Histogram({
    name: 'annunciator_store_commit_seconds',
    help: 'Store commits as their caller waited: accept (the inbox hand-off before 250/PUBACK, group commit) and transaction (the pipeline, timers, outbox), until durable.',
    labelNames: ['kind'] as const,
    buckets: COMMIT_BUCKETS,
    registers,
  });
  // Both alarm gauges come from one query per scrape, shared as the outbox gauges' below.
  let alarmsRead: ReturnType<typeof readAlarms> | undefined;
  const readAlarms = () => storeRead(() => store.alarms.activeSummary());
  const activeSummary = () => (alarmsRead ??= readAlarms().finally(() => (alarmsRead = undefined)));
  new Gauge({
    name: 'annunciator_alarms_active',
    help: 'Active alarms by severity (read from the store at scrape time).',
    labelNames: ['severity'] as const,
    registers,
    async collect() {
      const counts = await activeSummary();
      if (!counts) return;
      for (const severity of SEVERITIES) this.set({ severity }, counts.filter((c) => c.severity === severity).reduce((n, c) => n + c.count, 0));
    },
  });
  new Gauge({
    name: 'annunciator_alarms',
    help: 'Active alarms by state and severity: unacknowledged (nobody is on it), acknowledged, muted (a silence or an inhibition holds its notifications).',
    labelNames: ['state', 'severity'] as const,
    registers,
    async collect() {
      const counts = await activeSummary();
      if (!counts) return;
      for (const state of ['unacknowledged', 'acknowledged', 'muted'] as const) {
        for (const severity of SEVERITIES) this.set({ state, severity }, counts.filter((c) => c.severity === severity && alarmState(c) === state).reduce((n, c) => n + c.count, 0));
      }
    },
  });
  new Gauge({
    name: 'annunciator_timers_pending',
    help: 'Timers waiting to fire, by kind (escalation levels, group and digest flushes, unmutes, acknowledgement announcements, retention).',
    labelNames: ['kind'] as const,
    registers,
    async collect() {
      const counts = await storeRead(() => store.timers.pendingByKind());
      if (!counts) return;
      for (const kind of new Set([...TIMER_KINDS, ...Object.keys(counts)])) this.set({ kind }, (counts as Record<string, number>)[kind] ?? 0);
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
    name: 'annunciator_mqtt_connected',
    help: '1 when the connection to the MQTT broker is up and subscribed, 0 when not.',
    labelNames: ['broker'] as const,
    registers,
    collect() {
      for (const [broker, up] of Object.entries(options.connections().mqtt)) this.set({ broker }, up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'annunciator_imap_connected',
    help: '1 when the reply mailbox (acknowledgement by reply) has its IMAP session open, 0 when not; only the leading gateway watches it.',
    labelNames: ['account'] as const,
    registers,
    collect() {
      for (const [account, up] of Object.entries(options.connections().imap)) this.set({ account }, up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'annunciator_last_delivery_timestamp_seconds',
    help: 'When an upstream last accepted a notification through the account (Unix time); absent for an account that never delivered. Kept across restarts from the outbox.',
    labelNames: ['account'] as const,
    registers,
    collect() {
      for (const health of options.delivery.accounts()) if (health.lastSuccessAt !== undefined) this.set({ account: health.account }, health.lastSuccessAt / 1000);
    },
  });
  new Gauge({
    name: 'annunciator_last_delivery_error_timestamp_seconds',
    help: 'When a delivery through the account last failed or was deferred (Unix time); absent for an account without an error on record.',
    labelNames: ['account'] as const,
    registers,
    collect() {
      for (const health of options.delivery.accounts()) if (health.lastError !== undefined) this.set({ account: health.account }, health.lastError.at / 1000);
    },
  });
  new Gauge({
    name: 'annunciator_build_info',
    help: 'Always 1; the labels say which annunciator runs: its version, the Node.js version and the store backend.',
    labelNames: ['version', 'node_version', 'store_backend'] as const,
    registers,
  }).set({ version: VERSION, node_version: process.version, store_backend: store.backend }, 1);
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
  for (const kind of ['accept', 'transaction']) commits.zero({ kind });

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
    events.on('smtp-refused', ({ listener, stage, code, reason }) => {
      refusals.inc({ listener, stage, class: `${String(code).charAt(0)}xx`, code: String(code), reason });
      if (stage === 'data') messages.inc({ listener, outcome: 'refused', reason });
    }),
    events.on('delivered', ({ entry, account }) => {
      notifications.inc({ account, outcome: 'delivered' });
      latency.observe({ account }, Math.max(0, (entry.sentAt ?? options.now()) - entry.createdAt) / 1000);
    }),
    events.on('deferred', ({ account }) => notifications.inc({ account: account ?? '', outcome: 'deferred' })),
    events.on('failed', ({ account }) => notifications.inc({ account: account ?? '', outcome: 'failed' })),
  ];

  stops.push(store.observeCommits(({ kind, seconds }) => commits.observe({ kind }, seconds)));

  return {
    registry,
    contentType: registry.contentType,
    text: () => registry.metrics(),
    stop: () => stops.forEach((stop) => stop()),
  };
}
