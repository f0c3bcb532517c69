import type { GatewayConfig } from '../config/types.js';
import type { GatewayEventBus } from '../events.js';
import type { Acknowledge } from '../lifecycle/ack.js';
import type { Logger } from '../log/logger.js';
import type { Pipeline } from '../pipeline/pipeline.js';
import type { ReloadOutcome } from '../pipeline/stages.js';
import type { Store } from '../store/store.js';
import type { PageFormat } from './ack-page.js';
import type { DeliveryHealth } from './delivery-health.js';

/**
 * What API v1 and the console work on, handed in by the app (src/app.ts): the store read
 * through its interface (the same on SQLite and PostgreSQL), the event map for live
 * updates, and the same doors the rest of the gateway uses (acknowledge, reload).
 */
export interface ApiContext {
  store: Store;
  events: GatewayEventBus;
  /** The configuration in force: a reload replaces it. */
  config(): GatewayConfig;
  now(): number;
  acknowledge: Acknowledge;
  /** What SIGHUP does: on any problem the configuration in force stays. */
  reload(): ReloadOutcome;
  /** The pipeline, for dry runs (what `rules test` shows) and decisions taken through it. */
  pipeline: Pipeline;
  /** Zone and locale for times people read. */
  format: PageFormat;
  logger: Logger;
  /** Last success and last error per upstream account (also what `/metrics` reads). */
  delivery: DeliveryHealth;
}
