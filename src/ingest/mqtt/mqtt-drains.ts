import type { Logger } from '../../log/logger.js';
import type { HeldMqttSession, Peers } from '../../store/store.js';
import { sessionUrl, type MqttIngest } from './mqtt-ingest.js';

/**
 * The leader's round over the persistent MQTT sessions of gateways that are gone. A
 * member of a shared subscription group that dies without a clean disconnect keeps its
 * session at the broker (clean start off, a long expiry), and Mosquitto keeps giving it a
 * share of the events and queues them there: without this they would wait for that box to
 * come back, maybe never. The leader drains each such session through the ingest of its
 * broker (MqttIngest.drain) and ends it; one drain at a time, and a session drained is
 * forgotten, so each gone gateway's session is drained once.
 */
export class MqttDrains {
  #running = false;

  constructor(
    private readonly peers: Peers,
    private readonly ingests: MqttIngest[],
    private readonly logger: Logger,
    /** How long a gateway's control session must have been gone before its MQTT sessions are (ms): a few beats. */
    private readonly graceMs: number,
  ) {}

  /** One round; a round still under way makes this a no-op. Errors are logged, the next round tries again. */
  check(): void {
    if (this.#running) return;
    this.#running = true;
    this.round()
      .catch((error: unknown) => this.logger.warn({ err: error }, 'draining the MQTT sessions of gateways that are gone failed; trying again at the next beat'))
      .finally(() => (this.#running = false));
  }

  private async round(): Promise<void> {
    for (const session of await this.peers.goneMqttSessions(this.graceMs)) {
      // Our own client id is ours to hold (on a broker without shared subscriptions every leader uses the same one).
      const ingest = this.ingests.find((i) => sessionUrl(i.connection.broker.url) === session.url && i.connection.broker.clientId !== session.clientId);
      if (ingest) await this.drain(ingest, session);
    }
  }

  private async drain(ingest: MqttIngest, session: HeldMqttSession): Promise<void> {
    const context = { gateway: session.gateway, clientId: session.clientId, url: session.url };
    this.logger.warn(context, `gateway ${session.gateway} is gone (its database session ended and it has not beaten since): draining its MQTT session, whose share of events the broker holds for it`);
    const drained = await ingest.drain(session, () => this.peers.stillGone(session, this.graceMs));
    if (!drained) {
      this.logger.warn(context, `the drain of gateway ${session.gateway}'s MQTT session stopped: that gateway is back or took its session over, the broker could not be reached, or this gateway stops; the session stays as it is (tried again at a later beat while that gateway is gone)`);
      return;
    }
    await this.peers.forgetMqttSession(session);
    this.logger.warn(
      { ...context, committed: drained.committed, duplicates: drained.duplicates },
      `drained the MQTT session of gateway ${session.gateway}, which is gone: ${drained.committed} events committed here; the session is ended, so the broker gives it no more share`,
    );
  }
}
