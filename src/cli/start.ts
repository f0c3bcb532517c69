import { loadConfigOrReport } from './load-config-or-report.js';
import { startApp } from '../app.js';
import { PipelineConfigError } from '../pipeline/stages.js';
import { createLogger } from '../log/logger.js';

export async function startCommand(configFile: string): Promise<void> {
  const config = loadConfigOrReport(configFile);
  if (!config) process.exit(1);
  const logger = createLogger(config.log);
  // Every store call is meant to be awaited and handled; should one slip, say so and keep serving.
  process.on('unhandledRejection', (reason) => {
    logger.error({ err: reason }, 'unhandled promise rejection (a bug): logged, the gateway keeps running');
  });
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception (a bug): stopping; restart the gateway');
    process.exit(1);
  });
  logger.info({ config: config.file }, 'starting annunciator');
  const gateway = await startApp(config, { logger }).catch((error: unknown) => {
    if (error instanceof PipelineConfigError) process.stderr.write(`${error.message}\n`);
    logger.fatal({ err: error }, 'gateway could not start');
    process.exit(1);
  });
  process.on('SIGHUP', () => {
    const outcome = gateway.reload();
    if (outcome.ok && outcome.needRestart) logger.warn({ signal: 'SIGHUP', needRestart: outcome.needRestart }, outcome.message);
    else if (outcome.ok) logger.info({ signal: 'SIGHUP' }, outcome.message);
    else logger.error({ signal: 'SIGHUP' }, outcome.message);
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    gateway
      .stop()
      .then(() => process.exit(0))
      .catch((error: unknown) => {
        logger.error({ err: error }, 'unclean stop');
        process.exit(1);
      });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}
