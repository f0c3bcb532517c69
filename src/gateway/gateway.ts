import type { GatewayConfig } from '../config/types.js';
import { createSender } from '../deliver/account-sender.js';
import { OutboxWorker } from '../deliver/outbox-worker.js';
import { startSmtpListener, type SmtpListener } from '../ingest/smtp/smtp-listener.js';
import type { Logger } from '../log/logger.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { InboxProcessor } from './inbox-processor.js';
import { ConfiguredStages, type ReloadOutcome } from './pipeline-stages.js';

export interface Gateway {
  readonly store: Store;
  readonly listeners: SmtpListener[];
  /** Reloads rules and templates (what SIGHUP does); on any problem the ones in force stay. */
  reload(): ReloadOutcome;
  stop(): Promise<void>;
}

/** Wires the stages together: listeners -> store inbox -> processor -> outbox -> worker. */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  // Rules and templates first: a gateway must not start on rules it cannot use.
  const stages = config.alarms ? new ConfiguredStages(config) : undefined;
  const store = SqliteStore.open(config.gateway.dataDir);
  const worker = new OutboxWorker({
    store,
    senders: config.delivery.accounts.map((account) => createSender(account, config.gateway.hostname, config.delivery.concurrency)),
    retry: config.delivery.retry,
    concurrency: config.delivery.concurrency,
    pollInterval: config.delivery.pollInterval,
    logger: logger.child({ stage: 'deliver' }),
  });
  const processor = new InboxProcessor({ store, config, stages, logger: logger.child({ stage: 'process' }), onQueued: () => worker.wake() });
  const listeners: SmtpListener[] = [];
  try {
    for (const listener of config.listeners) {
      listeners.push(
        await startSmtpListener({
          listener,
          hostname: config.gateway.hostname,
          logger: logger.child({ stage: 'ingest' }),
          allowedRecipientDomains: config.relay.allowedRecipientDomains,
          commit: (received) => {
            store.insertReceived(received);
            processor.wake();
          },
        }),
      );
    }
  } catch (error) {
    await Promise.all(listeners.map((l) => l.close()));
    store.close();
    throw error;
  }
  worker.start();
  processor.start();
  if (stages && config.alarms?.watch) stages.watch(logger.child({ stage: 'rules' }));
  logger.info(
    { dataDir: config.gateway.dataDir, accounts: config.delivery.accounts.map((a) => a.name), mode: stages ? 'alarms' : 'relay', rules: stages?.ruleCount },
    'gateway started',
  );

  return {
    store,
    listeners,
    reload() {
      if (!stages) return { ok: true, message: 'no alarm pipeline configured: nothing to reload' };
      return stages.reload();
    },
    async stop() {
      stages?.stopWatching();
      await Promise.all(listeners.map((l) => l.close()));
      await processor.stop();
      await worker.stop();
      store.close();
      logger.info('gateway stopped');
    },
  };
}
