import { systemClock, type Clock } from './base/clock.js';
import type { DeliveryHealth } from './api/delivery-health.js';
import type { GatewayMetrics } from './api/metrics.js';
import type { HttpServer, Readiness } from './api/server.js';
import { accountSummary, type GatewayConfig } from './config/types.js';
import { startThreadedSenders } from './deliver/threaded-senders.js';
import type { MqttStatePublisher } from './deliver/mqtt-state-publisher.js';
import { OutboxWorker } from './deliver/outbox-worker.js';
import { GatewayEventBus } from './events.js';
import type { MqttDrains } from './ingest/mqtt/mqtt-drains.js';
import type { MqttIngest } from './ingest/mqtt/mqtt-ingest.js';
import { startSmtpListener, type SmtpListener } from './ingest/smtp/smtp-listener.js';
import type { Received } from './ingest/received.js';
import type { Acknowledge } from './lifecycle/ack.js';
import { timerAt } from './lifecycle/timer.js';
import type { Logger } from './log/logger.js';
import { Effects } from './pipeline/effects.js';
import { Pipeline } from './pipeline/pipeline.js';
import { ConfiguredStages, PipelineConfigError, type ReloadOutcome } from './pipeline/stages.js';
import { ConfigError, loadConfig } from './config/load.js';
import { planReload } from './config/reload-plan.js';
import { InboxRunner } from './run/inbox-runner.js';
import { Leadership, LEADERSHIP_INTERVAL } from './run/leadership.js';
import type { ReplyAcknowledger } from './run/reply-acknowledger.js';
import { TimerRunner } from './run/timer-runner.js';
import { openStore } from './store/open-store.js';
import type { Store } from './store/store.js';

export interface AppOptions {
  logger: Logger;
  /** Time as the gateway sees it; tests hand in a fake clock. */
  clock?: Clock;
  /**
   * What watches the store file (deleted, replaced, read-only, disk full): real time by
   * default, like socket timeouts, since it is about the file system, not the schedule;
   * tests of store faults hand in their fake clock here too.
   */
  healthClock?: Clock;
  /** The store; by default the configured one (src/store/open-store.ts): the SQLite file in `gateway.dataDir`, or PostgreSQL. */
  store?: Store;
  /** How often a gateway on a shared store beats for the lead (ms of `clock`; run/leadership.ts). */
  leadershipInterval?: number;
}

export interface App {
  readonly config: GatewayConfig;
  readonly events: GatewayEventBus;
  readonly store: Store;
  readonly pipeline: Pipeline;
  /** Filled by start(): the SMTP listeners, MQTT ingests, reply mailboxes and HTTP server. */
  readonly listeners: SmtpListener[];
  readonly mqtt: MqttIngest[];
  readonly replies: ReplyAcknowledger[];
  readonly http: HttpServer | undefined;
  /** Whether this gateway runs the timers, reply watchers and retained MQTT state now (always, on the SQLite file). */
  readonly leading: boolean;
  /** Opens the listeners, brokers and mailboxes and starts the runners. */
  start(): Promise<void>;
  /**
   * Reloads the configuration file with its rules and templates (what SIGHUP does): on any
   * problem everything in force stays; sections read only at start (listeners, accounts,
   * brokers, ...) are named in `needRestart` and stay as they are until a restart.
   */
  reload(): ReloadOutcome;
  stop(): Promise<void>;
}

/**
 * The top of the house: builds the road once from the configuration, with the clock, the
 * logger and the store handed in, and wires its parts by events, not callbacks:
 *
 *   listeners/brokers --accept (group commit, then 250/PUBACK)--> inbox
 *   inbox runner --> pipeline.received --> alarms, timers, outbox   (one transaction per batch)
 *   timer runner --> pipeline.timers   --> alarms, timers, outbox   (one table, one wake-up)
 *   doors (MQTT, link, reply) --> pipeline.acknowledge
 *   outbox worker --> upstream accounts
 *
 * With several gateways on one database every one takes mail, processes its inbox and
 * delivers; only the leader (run/leadership.ts) runs the timers, the reply watchers and
 * the retained MQTT state, started and stopped on `leadership-gained` / `leadership-lost`.
 */
export function createApp(initialConfig: GatewayConfig, options: AppOptions): App {
  const { logger } = options;
  const clock = options.clock ?? systemClock;
  /** The configuration in force: replaced by a reload, except for what is read only at start. */
  let config = initialConfig;
  // Rules and templates first: a gateway must not start on rules it cannot use.
  let stages = config.alarms ? new ConfiguredStages(config) : undefined;
  let started = false;
  const store = options.store ?? openStore(config, { clock: options.healthClock ?? systemClock, logger: logger.child({ stage: 'store' }), backgroundCheckpoints: true });
  const events = new GatewayEventBus(logger);
  const pollInterval = config.delivery.pollInterval;
  const pipeline = new Pipeline({ config, ...(stages ? { stages } : {}), logger: logger.child({ stage: 'process' }), lateAfter: Math.max(1000, 2 * pollInterval) });

  const worker = new OutboxWorker({
    store,
    // Upstream SMTP (streams, TLS, AUTH) runs in a delivery thread of its own, on the second core.
    senders: startThreadedSenders(config.delivery.accounts, config.gateway.hostname, config.delivery.concurrency),
    retry: config.delivery.retry,
    concurrency: config.delivery.concurrency,
    pollInterval,
    clock,
    logger: logger.child({ stage: 'deliver' }),
    onOutcome: (outcome) => {
      if (outcome.kind === 'delivered') events.emit('delivered', { entry: outcome.entry, account: outcome.account });
      else if (outcome.kind === 'deferred') events.emit('deferred', { entry: outcome.entry, reason: outcome.reason, retryAt: outcome.retryAt, account: outcome.account });
      else events.emit('failed', { entry: outcome.entry, reason: outcome.reason, account: outcome.account });
    },
  });
  const inbox = new InboxRunner({ store, pipeline, events, clock, logger: logger.child({ stage: 'process' }), pollInterval });
  const timers = new TimerRunner({ store, pipeline, events, clock, logger: logger.child({ stage: 'timers' }), pollInterval });
  const leadershipInterval = options.leadershipInterval ?? LEADERSHIP_INTERVAL;
  /** On a shared store with brokers: the leader drains the MQTT sessions of gateways that are gone. */
  let drains: MqttDrains | undefined;
  const leadership = new Leadership({ peers: store.peers, events, clock, logger: logger.child({ stage: 'leadership' }), interval: leadershipInterval, onLeaderBeat: () => drains?.check() });

  /** Every door acknowledges through the pipeline, one transaction per act. */
  const acknowledge: Acknowledge = async (requests) => {
    const fx = new Effects();
    const outcomes = await store.transaction((tx) => pipeline.acknowledge(tx, requests, clock.now(), fx));
    fx.release(events);
    return outcomes;
  };
  /** Alarms held by an inhibition, looked at again under reloaded inhibit rules. */
  const reconsiderInhibited = async (): Promise<void> => {
    const log = logger.child({ stage: 'reload' });
    try {
      const fx = new Effects();
      const armed = await store.transaction((tx) => pipeline.inhibitRulesChanged(tx, clock.now(), fx));
      fx.release(events);
      if (armed > 0) log.info({ alarms: armed }, 'inhibit rules changed: the alarms they held are looked at again');
    } catch (error) {
      // They stay muted until their source resolves, as before the reload; nothing is lost.
      log.error({ err: error }, 'inhibit rules changed, but the alarms they held could not be looked at again');
    }
  };
  /**
   * The inbox hand-off of every listener and broker: durable when it resolves. The inbox
   * runner starts on the message at its commit, while the flush runs (store.ts, AcceptOptions).
   */
  const accept = async (received: Received): Promise<void> => {
    await store.accept(received, { committed: () => inbox.wake() });
    events.emit('received', { received });
  };

  const mqtt: MqttIngest[] = [];
  const publishers: MqttStatePublisher[] = [];
  const replies: ReplyAcknowledger[] = [];
  /** The brokers and reply mailboxes, loaded only when configured (the MQTT and IMAP clients are large). */
  const openOptionalDoors = async (): Promise<void> => {
    if (config.mqtt.length > 0) {
      const { MqttIngest } = await import('./ingest/mqtt/mqtt-ingest.js');
      const { MqttStatePublisher } = await import('./deliver/mqtt-state-publisher.js');
      for (const broker of config.mqtt) {
        const ingest = new MqttIngest({ broker, mappings: stages!.mqtt, store, logger: logger.child({ stage: 'mqtt', broker: broker.name }), commit: accept, acknowledge });
        mqtt.push(ingest);
        if (broker.publish.enabled) publishers.push(new MqttStatePublisher(ingest.connection, broker, store));
      }
      if (store.peers) {
        const { MqttDrains } = await import('./ingest/mqtt/mqtt-drains.js');
        // Three beats: a gateway that only lost its database connection beats again at once.
        drains = new MqttDrains(store.peers, mqtt, logger.child({ stage: 'mqtt' }), 3 * leadershipInterval);
      }
    }
    if (config.replies.length > 0) {
      const { ReplyAcknowledger } = await import('./run/reply-acknowledger.js');
      for (const account of config.replies) {
        replies.push(
          new ReplyAcknowledger({
            account,
            domain: config.gateway.domain,
            store,
            logger: logger.child({ stage: 'replies' }),
            // A notification names its alarm; a group or digest names its batch, which stands for every alarm it listed.
            resolveToken: async (token) => ((await store.alarms.get(token)) ? [token] : [...new Set((await store.batches.items(token)).map((item) => item.alarmId))]),
            acknowledge,
          }),
        );
      }
    }
  };

  const processLogger = logger.child({ stage: 'process' });
  events.on('pruned', () => {
    store.compact().catch((error: unknown) => logger.error({ err: error }, 'cannot give the space pruning freed back to the file system; tried again after the next prune'));
  });
  events.on('queued', () => worker.wake());
  events.on('retry-requested', () => worker.wake());
  events.on('leadership-gained', () => {
    timers.start();
    for (const reply of replies) reply.start();
    for (const publisher of publishers) publisher.lead(true);
    // Brokers without a shared subscription group: the leader alone holds the MQTT session.
    for (const ingest of mqtt) void ingest.lead(true);
  });
  events.on('leadership-lost', () => {
    // At once: another gateway may be taking over; a pass under way finishes (a timer fires once: timers.fire is guarded).
    for (const publisher of publishers) publisher.lead(false);
    void timers.stop();
    for (const reply of replies) void reply.stop();
    for (const ingest of mqtt) ingest.lead(false).catch((error: unknown) => logger.warn({ err: error }, 'leaving the MQTT session failed; the broker ends it when the next leader connects'));
  });
  events.on('alarm-changed', ({ alarm }) => publishers.forEach((p) => p.publishAlarm(alarm)));
  // Other gateways' commits on a shared store (LISTEN/NOTIFY): the loops wake now instead of at their next poll, which stays as the fallback.
  store.peers?.onWake((wake) => {
    switch (wake.kind) {
      case 'inbox':
        inbox.wake();
        break;
      case 'outbox':
        worker.wake();
        break;
      case 'timer':
        timers.wakeBy(wake.dueAt);
        break;
      case 'alarm':
        if (leadership.leading && publishers.length > 0) {
          store.alarms.get(wake.alarmId).then(
            (alarm) => alarm && publishers.forEach((p) => p.publishAlarm(alarm)),
            // Published again in full when the lead or the broker connection comes back.
            (error: unknown) => logger.warn({ err: error, alarmId: wake.alarmId }, 'cannot read an alarm another gateway changed to publish its MQTT state'),
          );
        }
        break;
      case 'missed':
        inbox.wake();
        worker.wake();
        timers.wake();
        break;
    }
  });
  events.on('delivered', ({ entry, account }) => publishers.forEach((p) => p.publishNotification(entry, account)));
  events.on('rejected', ({ received, reason }) => {
    const ingest = received.mqtt ? mqtt.find((i) => i.connection.broker.name === received.listener) : undefined;
    if (ingest) ingest.reportUnusable(received, reason);
    else processLogger.warn({ msgId: received.id, reason }, 'message yields no alarm; kept in the store as rejected');
  });

  const listeners: SmtpListener[] = [];
  let http: HttpServer | undefined;
  let metrics: GatewayMetrics | undefined;
  let deliveryHealth: DeliveryHealth | undefined;
  /** What `/-/ready` reports: the store takes work, every listener and broker is up, and due notifications are being taken. */
  const readiness = async (): Promise<Readiness> => {
    const parts: Readiness = {};
    const health = store.health();
    parts.store = health.ok ? { ok: true } : { ok: false, reason: health.reason };
    parts.listeners = started && listeners.length === config.listeners.length ? { ok: true } : { ok: false, reason: 'the SMTP listeners are not all open yet' };
    for (const ingest of mqtt) {
      const name = ingest.connection.broker.name;
      parts[`mqtt:${name}`] = ingest.ready ? { ok: true } : { ok: false, reason: `not connected and subscribed to broker ${name}` };
    }
    if (health.ok) {
      try {
        const due = await store.outbox.nextDueAt();
        const late = due === undefined ? 0 : clock.now() - due;
        parts.delivery = late <= DELIVERY_STUCK_AFTER ? { ok: true } : { ok: false, reason: `a notification due ${Math.round(late / 1000)} s ago has not been taken for delivery` };
      } catch (error) {
        parts.store = { ok: false, reason: `the outbox could not be read: ${error instanceof Error ? error.message : String(error)}` };
      }
    }
    return parts;
  };
  return {
    get config() {
      return config;
    },
    events,
    store,
    pipeline,
    listeners,
    mqtt,
    replies,
    get http() {
      return http;
    },
    get leading() {
      return leadership.leading;
    },
    async start() {
      try {
        await openOptionalDoors();
        for (const listener of config.listeners) {
          listeners.push(
            await startSmtpListener({
              listener,
              hostname: config.gateway.hostname,
              logger: logger.child({ stage: 'ingest' }),
              allowedRecipientDomains: config.relay.allowedRecipientDomains,
              commit: accept,
              refused: (refusal) => events.emit('smtp-refused', refusal),
            }),
          );
        }
        if (config.http) {
          const { startHttpServer } = await import('./api/server.js');
          const { gatewayMetrics } = await import('./api/metrics.js');
          const { gatewayAuthenticator } = await import('./api/auth/authenticate.js');
          const { DeliveryHealth } = await import('./api/delivery-health.js');
          deliveryHealth = new DeliveryHealth({ events, store, now: () => clock.now(), logger: logger.child({ stage: 'api' }) });
          metrics = gatewayMetrics({
            events,
            store,
            leading: () => leadership.leading,
            now: () => clock.now(),
            listeners: config.listeners.map((l) => l.name),
            brokers: config.mqtt.map((b) => b.name),
            accounts: config.delivery.accounts.map((a) => a.name),
            delivery: deliveryHealth,
            connections: () => ({
              mqtt: Object.fromEntries(mqtt.map((ingest) => [ingest.connection.broker.name, ingest.ready])),
              // The reply watchers, in the order of config.replies.
              imap: Object.fromEntries(replies.map((reply, i) => [config.replies[i]?.name ?? String(i), reply.watcher.connected])),
            }),
          });
          // Read per page, so that a reloaded time zone shows at once.
          const format = {
            get timeZone() {
              return config.alarms?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
            },
            get locale() {
              return config.alarms?.locale ?? 'en-GB';
            },
          };
          const httpConfig = config.http;
          const app = this;
          http = await startHttpServer({
            readiness,
            metrics,
            listen: httpConfig.listen,
            ...(httpConfig.tls ? { tls: httpConfig.tls } : {}),
            ...(httpConfig.links ? { linkKey: httpConfig.links.key } : {}),
            store,
            acknowledge,
            logger: logger.child({ stage: 'api' }),
            format,
            now: () => clock.now(),
            api: {
              context: { store, events, config: () => config, now: () => clock.now(), acknowledge, reload: () => app.reload(), pipeline, format, logger: logger.child({ stage: 'api' }), delivery: deliveryHealth },
              // Read per request: a reload changes users, tokens and the session lifetime.
              authenticate: gatewayAuthenticator({ http: () => config.http ?? httpConfig, sessions: store.loginSessions, now: () => clock.now(), logger: logger.child({ stage: 'api' }) }),
            },
          });
        }
      } catch (error) {
        await Promise.all(listeners.map((l) => l.close()));
        await store.close();
        throw error;
      }
      await worker.start();
      // Retention runs as a timer like everything else done later; one already armed is kept.
      await store.timers.add([timerAt('prune', 'store', null, clock.now())]);
      inbox.start();
      for (const ingest of mqtt) ingest.start();
      leadership.start();
      if (stages && config.alarms?.watch) stages.watch(logger.child({ stage: 'rules' }));
      started = true;
      logger.info(
        {
          dataDir: config.gateway.dataDir,
          store: store.backend,
          // A first run on the embedded default writes files, not mail: say where they go.
          accounts: config.delivery.accounts.map(accountSummary),
          mode: stages ? 'alarms' : 'relay',
          rules: stages?.ruleCount,
        },
        'gateway started',
      );
    },
    reload() {
      let loaded: GatewayConfig;
      try {
        loaded = loadConfig(config.file);
      } catch (error) {
        if (error instanceof ConfigError) {
          return { ok: false, message: `configuration refused, the one in force stays:\n${error.message}`, problems: error.reported };
        }
        throw error;
      }
      const plan = planReload(config, loaded);
      let next: ConfiguredStages | undefined;
      try {
        next = plan.config.alarms ? new ConfiguredStages(plan.config) : undefined;
      } catch (error) {
        if (error instanceof PipelineConfigError) {
          return { ok: false, message: `rules or templates refused, the configuration in force stays:\n${error.message}`, problems: error.reported };
        }
        throw error;
      }
      pipeline.reconfigure(plan.config, next);
      stages?.stopWatching();
      stages = next;
      config = plan.config;
      if (started && stages && config.alarms?.watch) stages.watch(logger.child({ stage: 'rules' }));
      if (started && stages && plan.applied.includes('inhibit')) void reconsiderInhibited();
      const what = plan.applied.length > 0 ? `changed: ${plan.applied.join(', ')}` : 'no setting changed';
      const rules = stages ? `; ${stages.ruleCount} rule(s)` : '';
      const restart = plan.needRestart.length > 0 ? `; changed but in force only after a restart: ${plan.needRestart.join(', ')}` : '';
      return { ok: true, message: `reloaded ${config.file} (${what}${rules})${restart}`, applied: plan.applied, ...(plan.needRestart.length > 0 ? { needRestart: plan.needRestart } : {}) };
    },
    async stop() {
      stages?.stopWatching();
      await leadership.stop();
      await http?.close();
      metrics?.stop();
      deliveryHealth?.stop();
      await Promise.all(mqtt.map((i) => i.stop()));
      await Promise.all(replies.map((r) => r.stop()));
      await Promise.all(listeners.map((l) => l.close()));
      await timers.stop();
      await inbox.stop();
      await worker.stop();
      await store.close();
      logger.info('gateway stopped');
    },
  };
}

/**
 * How long a due notification may wait untaken before `/-/ready` says delivery is stuck:
 * long enough for a flood's backlog at the configured concurrency, short of an outage.
 */
const DELIVERY_STUCK_AFTER = 5 * 60_000;

/** Builds the gateway and starts it: what `annunciator start` runs. */
export async function startApp(config: GatewayConfig, options: AppOptions): Promise<App> {
  const app = createApp(config, options);
  await app.start();
  return app;
}
