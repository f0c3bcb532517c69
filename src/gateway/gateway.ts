import { startAckServer, type AckServer } from '../api/server.js';
import type { GatewayConfig } from '../config/types.js';
import { createSender } from '../deliver/account-sender.js';
import { OutboxWorker } from '../deliver/outbox-worker.js';
import { startSmtpListener, type SmtpListener } from '../ingest/smtp/smtp-listener.js';
import type { Logger } from '../log/logger.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { acknowledgeIn } from './acknowledge.js';
import type { Acknowledge } from '../lifecycle/ack.js';
import type { Store } from '../store/store.js';
import { InboxProcessor } from './inbox-processor.js';
import { UnmuteScheduler } from './unmute-scheduler.js';
import { EscalationScheduler } from './escalation-scheduler.js';
import { BatchScheduler } from './batch-scheduler.js';
import { MqttIngest } from '../ingest/mqtt/mqtt-ingest.js';
import { ReplyAcknowledger } from './reply-acknowledger.js';
import { MqttStatePublisher } from '../deliver/mqtt-state-publisher.js';
import { ConfiguredStages, type ReloadOutcome } from './pipeline-stages.js';

export interface Gateway {
  readonly store: Store;
  readonly listeners: SmtpListener[];
  readonly mqtt: MqttIngest[];
  /** One per `replies` mailbox: replies to notifications that acknowledge alarms. */
  readonly replies: ReplyAcknowledger[];
  /** The acknowledgement-link server, when the `api` section is configured. */
  readonly api?: AckServer;
  /** Reloads rules and templates (what SIGHUP does); on any problem the ones in force stay. */
  reload(): ReloadOutcome;
  stop(): Promise<void>;
}

/** Wires the stages together: listeners -> store inbox -> processor -> outbox -> worker. */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  // Rules and templates first: a gateway must not start on rules it cannot use.
  const stages = config.alarms ? new ConfiguredStages(config) : undefined;
  const store = SqliteStore.open(config.gateway.dataDir);
  const mqttIngests: MqttIngest[] = [];
  const publishers: MqttStatePublisher[] = [];
  const worker = new OutboxWorker({
    store,
    senders: config.delivery.accounts.map((account) => createSender(account, config.gateway.hostname, config.delivery.concurrency)),
    retry: config.delivery.retry,
    concurrency: config.delivery.concurrency,
    pollInterval: config.delivery.pollInterval,
    logger: logger.child({ stage: 'deliver' }),
    onDelivered: (entry, account) => publishers.forEach((p) => p.publishNotification(entry, account)),
  });
  const processLogger = logger.child({ stage: 'process' });
  // Every door (MQTT, link, reply) acknowledges through this one transaction.
  const acknowledge: Acknowledge = (alarmId, ack) => store.transaction((tx) => acknowledgeIn(tx, alarmId, ack, ack.at));
  // Notifies muted alarms once their silence ends or what inhibited them resolves.
  const unmuter = stages
    ? new UnmuteScheduler({
        store,
        config,
        stages,
        logger: logger.child({ stage: 'unmute' }),
        pollInterval: config.delivery.pollInterval,
        onQueued: () => worker.wake(),
        onAlarmChanged: (alarm) => publishers.forEach((p) => p.publishAlarm(alarm)),
      })
    : undefined;
  // Fires escalation levels and tells the others of an acknowledgement.
  const escalator = stages
    ? new EscalationScheduler({
        store,
        config,
        stages,
        logger: logger.child({ stage: 'escalate' }),
        pollInterval: config.delivery.pollInterval,
        onQueued: () => worker.wake(),
        onHeld: () => batcher?.wake(),
        onAlarmChanged: (alarm) => publishers.forEach((p) => p.publishAlarm(alarm)),
      })
    : undefined;
  // Sends groups and digests when their time comes.
  const batcher = stages
    ? new BatchScheduler({
        store,
        config,
        stages,
        logger: logger.child({ stage: 'batch' }),
        pollInterval: config.delivery.pollInterval,
        onQueued: () => worker.wake(),
      })
    : undefined;
  const processor = new InboxProcessor({
    store,
    config,
    stages,
    logger: processLogger,
    onQueued: () => worker.wake(),
    // A held notification may have opened a group that goes out before the batch timer's next poll.
    onHeld: () => batcher?.wake(),
    onAlarmChanged: (alarm) => {
      publishers.forEach((p) => p.publishAlarm(alarm));
      // A newly muted alarm: the scheduler sets its timer to the end of the silence. A
      // resolved one may have been inhibiting others.
      if (alarm.mutedBy || alarm.state === 'resolved') unmuter?.wake();
      // A new alarm may have escalation timers to sleep until.
      if (alarm.state === 'active' && alarm.count === 1) escalator?.wake();
    },
    onUnusable: (received, reason) => {
      const ingest = received.mqtt ? mqttIngests.find((i) => i.connection.broker.name === received.listener) : undefined;
      if (ingest) ingest.reportUnusable(received, reason);
      else processLogger.warn({ msgId: received.id, reason }, 'message yields no alarm; kept in the store as rejected');
    },
  });
  for (const broker of config.mqtt) {
    const mqttLogger = logger.child({ stage: 'mqtt', broker: broker.name });
    const ingest = new MqttIngest({
      broker,
      mappings: stages!.mqtt,
      store,
      logger: mqttLogger,
      commit: async (received) => {
        await store.accept(received);
        processor.wake();
      },
      acknowledge,
      onAcknowledged: (alarm) => {
        publishers.forEach((p) => p.publishAlarm(alarm));
        escalator?.wake();
      },
    });
    mqttIngests.push(ingest);
    if (broker.publish.enabled) publishers.push(new MqttStatePublisher(ingest.connection, broker, store));
  }
  // Replies to notifications acknowledge as MQTT acks and links do: publish the new state; the escalator stops and tells the others.
  const replyIngests = config.replies.map(
    (account) =>
      new ReplyAcknowledger({
        account,
        domain: config.gateway.domain,
        store,
        logger: logger.child({ stage: 'replies' }),
        // A notification names its alarm; a group or digest names its batch, which stands for every alarm it listed.
        resolveToken: async (token) => ((await store.alarms.get(token)) ? [token] : [...new Set((await store.batches.items(token)).map((item) => item.alarmId))]),
        acknowledge,
        onAcknowledged: (alarm) => {
          publishers.forEach((p) => p.publishAlarm(alarm));
          escalator?.wake();
        },
      }),
  );
  const listeners: SmtpListener[] = [];
  try {
    for (const listener of config.listeners) {
      listeners.push(
        await startSmtpListener({
          listener,
          hostname: config.gateway.hostname,
          logger: logger.child({ stage: 'ingest' }),
          allowedRecipientDomains: config.relay.allowedRecipientDomains,
          commit: async (received) => {
            await store.accept(received);
            processor.wake();
          },
        }),
      );
    }
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    await store.close();
    throw error;
  }
  let api: AckServer | undefined;
  if (config.api) {
    try {
      api = await startAckServer({
        listen: config.api.listen,
        key: config.api.linkSecret,
        store,
        acknowledge,
        logger: logger.child({ stage: 'api' }),
        format: { timeZone: config.alarms?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone, locale: config.alarms?.locale ?? 'en-GB' },
        // As for an MQTT acknowledgement: publish the new state; the escalator stops and tells the others.
        onAcknowledged: (alarm) => {
          publishers.forEach((p) => p.publishAlarm(alarm));
          escalator?.wake();
        },
      });
    } catch (error) {
      await Promise.all(listeners.map((l) => l.close()));
      await store.close();
      throw error;
    }
  }
  await worker.start();
  processor.start();
  unmuter?.start();
  escalator?.start();
  batcher?.start();
  for (const ingest of mqttIngests) ingest.start();
  for (const ingest of replyIngests) ingest.start();
  if (stages && config.alarms?.watch) stages.watch(logger.child({ stage: 'rules' }));
  logger.info(
    { dataDir: config.gateway.dataDir, accounts: config.delivery.accounts.map((a) => a.name), mode: stages ? 'alarms' : 'relay', rules: stages?.ruleCount },
    'gateway started',
  );

  return {
    store,
    listeners,
    mqtt: mqttIngests,
    replies: replyIngests,
    ...(api ? { api } : {}),
    reload() {
      if (!stages) return { ok: true, message: 'no alarm pipeline configured: nothing to reload' };
      return stages.reload();
    },
    async stop() {
      stages?.stopWatching();
      await api?.close();
      await Promise.all(mqttIngests.map((i) => i.stop()));
      await Promise.all(replyIngests.map((i) => i.stop()));
      await Promise.all(listeners.map((l) => l.close()));
      await unmuter?.stop();
      await escalator?.stop();
      await batcher?.stop();
      await processor.stop();
      await worker.stop();
      await store.close();
      logger.info('gateway stopped');
    },
  };
}
