import type { GatewayConfig } from '../config/types.js';
import { createSender } from '../deliver/account-sender.js';
import { OutboxWorker } from '../deliver/outbox-worker.js';
import { startSmtpListener, type SmtpListener } from '../ingest/smtp/smtp-listener.js';
import type { Logger } from '../log/logger.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { Store } from '../store/store.js';
import { InboxProcessor } from './inbox-processor.js';

export interface Gateway {
  readonly store: Store;
  readonly listeners: SmtpListener[];
  stop(): Promise<void>;
}

/** Wires the stages together: listeners -> store inbox -> processor -> outbox -> worker. */
export async function startGateway(config: GatewayConfig, logger: Logger): Promise<Gateway> {
  const store = SqliteStore.open(config.gateway.dataDir);
  const worker = new OutboxWorker({
    store,
    senders: config.delivery.accounts.map((account) => createSender(account, config.gateway.hostname, config.delivery.concurrency)),
    retry: config.delivery.retry,
    concurrency: config.delivery.concurrency,
    pollInterval: config.delivery.pollInterval,
    logger: logger.child({ stage: 'deliver' }),
  });
  const processor = new InboxProcessor({ store, config, logger: logger.child({ stage: 'process' }), onQueued: () => worker.wake() });
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
  logger.info({ dataDir: config.gateway.dataDir, accounts: config.delivery.accounts.map((a) => a.name) }, 'gateway started');

  return {
    store,
    listeners,
    async stop() {
      await Promise.all(listeners.map((l) => l.close()));
      await processor.stop();
      await worker.stop();
      store.close();
      logger.info('gateway stopped');
    },
  };
}
