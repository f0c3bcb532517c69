import { connect, connectAsync, type IClientOptions, type IConnackPacket, type IPublishPacket, type ISubscriptionGrant, type MqttClient } from 'mqtt';
import type { Logger } from '../log/logger.js';

export type MessageHandler = (packet: IPublishPacket) => Promise<void>;

/** What a connection reads of a broker's configuration (config/types.ts MqttBrokerConfig is one). */
export interface MqttBrokerSettings {
  name: string;
  url: string;
  clientId: string;
  username?: string;
  password?: { reveal(): string };
  protocolVersion: 4 | 5;
  /** ms. */
  keepalive: number;
  tls: { ca: Buffer[]; cert?: Buffer; key?: Buffer; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  reconnect: { initialDelay: number; maxDelay: number };
}

/**
 * One broker connection with a persistent session (clean session off), reconnecting with
 * exponential backoff and jitter. Messages are handed to `onMessage` one at a time, across
 * connections too, and a QoS 1 message is acknowledged (PUBACK) only after the handler's
 * promise resolved: the handler commits to the store first. The PUBACK goes out only on the
 * connection the message came on: a packet id names a message within one connection's
 * session, and on a later connection (above all to a broker that lost the session) the same
 * id can name another message, which the broker would drop unseen. A message committed
 * after its connection closed is therefore not acknowledged; a resumed session delivers it
 * again (DUP) and the handler recognises it. A handler that fails drops the connection
 * unacknowledged, so the broker delivers the message again; while handlers keep failing
 * (the store full or gone) the reconnects back off as after lost connections, instead of
 * fetching the same message again at once. MQTT in (ingest/mqtt/) and
 * the alarm state published back (deliver/mqtt-state-publisher.ts) share it.
 */
export class MqttConnection {
  private client: MqttClient | undefined;
  private attempt = 0;
  /** Messages whose handler failed in a row: each dropped the connection. */
  private failedHandlers = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly connectedHandlers: Array<(sessionPresent: boolean, connack: IConnackPacket) => void> = [];
  /** The handler under way, of this connection or the one before: the next message waits for it. */
  private handling: Promise<void> = Promise.resolve();
  /** When the broker last sent a message or the connection was made (Date.now()): a drain ends once it has been quiet a while. */
  lastMessageAt = 0;

  /** `once`: no reconnect after the connection closes (a drain of another gateway's session, which yields to a takeover). */
  constructor(
    readonly broker: MqttBrokerSettings,
    private readonly logger: Logger,
    private readonly onMessage: MessageHandler,
    private readonly once = false,
  ) {}

  /** Resolves when every message handed to the handler so far is handled (and acknowledged, if its connection is still up). */
  idle(): Promise<void> {
    return this.handling;
  }

  get connected(): boolean {
    return this.client?.connected ?? false;
  }

  onConnected(handler: (sessionPresent: boolean, connack: IConnackPacket) => void): void {
    this.connectedHandlers.push(handler);
  }

  /** Started and not stopped since: connected, or reconnecting. */
  get running(): boolean {
    return this.client !== undefined && !this.stopped;
  }

  private clientOptions(): IClientOptions {
    const { broker } = this;
    const options: IClientOptions = {
      clientId: broker.clientId,
      clean: false,
      protocolVersion: broker.protocolVersion,
      keepalive: Math.max(1, Math.round(broker.keepalive / 1000)),
      // Reconnects are ours, with backoff; mqtt.js would retry at a fixed period.
      reconnectPeriod: 0,
      // The session keeps the subscriptions; subscribing again is done only when it was lost.
      resubscribe: false,
      connectTimeout: 15_000,
      ...(broker.username ? { username: broker.username } : {}),
      ...(broker.password ? { password: broker.password.reveal() } : {}),
      ...(broker.tls.ca.length > 0 ? { ca: broker.tls.ca } : {}),
      ...(broker.tls.cert && broker.tls.key ? { cert: broker.tls.cert, key: broker.tls.key } : {}),
      rejectUnauthorized: true,
      ...(broker.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 0xffffffff } } : {}),
    };
    // mqtt.js hands its options to tls.connect, but its types list no minVersion.
    return Object.assign(options, { minVersion: broker.tls.minVersion });
  }

  /** Connects; after stop() it connects again (a leader taking the session back). */
  start(): void {
    this.stopped = false;
    const { broker } = this;
    const client = connect(broker.url, this.clientOptions());
    this.client = client;
    client.handleMessage = (packet, done) => {
      this.lastMessageAt = Date.now();
      const arrivedOn = client.stream;
      // After the previous message's handler, even one of a connection that closed meanwhile:
      // the broker may be sending that message again, and the handler must see it committed.
      const handled = this.handling.then(() => this.onMessage(packet));
      this.handling = handled.catch(() => undefined);
      handled.then(
        () => {
          this.failedHandlers = 0;
          if (client.stream !== arrivedOn || !client.connected) {
            this.logger.info(
              { topic: packet.topic, messageId: packet.messageId },
              'message committed after its connection closed; not acknowledged on another connection (a resumed session delivers it again, recognised as a redelivery)',
            );
            // mqtt.js sends no PUBACK for a handler that reports an error.
            done(new Error('connection closed before the message was committed'));
            return;
          }
          done();
        },
        (error: unknown) => {
          this.failedHandlers += 1;
          this.logger.error({ err: error, topic: packet.topic, failures: this.failedHandlers }, 'message not committed; dropping the connection unacknowledged so the broker redelivers it');
          if (client.stream === arrivedOn) client.stream.destroy();
          else done(error instanceof Error ? error : new Error(String(error)));
        },
      );
    };
    client.on('connect', (connack) => {
      // A connection dropped because a message could not be committed counts as a failed attempt.
      this.attempt = Math.max(0, this.failedHandlers - 1);
      this.lastMessageAt = Date.now();
      this.logger.info({ url: redactUrl(broker.url), sessionPresent: connack.sessionPresent }, 'connected to the MQTT broker');
      for (const handler of this.connectedHandlers) handler(connack.sessionPresent, connack);
    });
    // A client ended by stop() stays closed, even when start() has made a new one since.
    client.on('close', () => {
      if (this.client !== client) return;
      if (this.once) this.stopped = true;
      else this.scheduleReconnect();
    });
    client.on('error', (error) => this.logger.warn({ err: error }, 'MQTT connection error'));
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.timer) return;
    this.attempt += 1;
    const { initialDelay, maxDelay } = this.broker.reconnect;
    const base = Math.min(maxDelay, initialDelay * 2 ** Math.min(this.attempt - 1, 20));
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    this.logger.warn({ attempt: this.attempt, retryInMs: delay }, 'MQTT connection lost; reconnecting');
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (!this.stopped) this.client?.reconnect();
    }, delay);
    this.timer.unref();
  }

  /** Subscribes with QoS 1; resolves with what the broker granted for each filter (QoS 128: refused). */
  async subscribe(filters: string[]): Promise<ISubscriptionGrant[]> {
    const client = this.client;
    if (!client || filters.length === 0) return [];
    return client.subscribeAsync(Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }])));
  }

  async unsubscribe(filters: string[]): Promise<void> {
    const client = this.client;
    if (!client || filters.length === 0) return;
    await client.unsubscribeAsync(filters);
  }

  publish(topic: string, payload: string, options: { retain: boolean; qos: 0 | 1 }): void {
    this.client?.publish(topic, payload, options, (error) => {
      if (error) this.logger.warn({ topic, err: error }, 'MQTT publish failed; state is published again on reconnect');
    });
  }

  /**
   * Ends the session's connection: gracefully if in-flight publishes finish within 2 s, else
   * at once (state is published again on the next connect). `endSession`: the broker discards
   * the session too (MQTT 5: DISCONNECT with session expiry 0; 3.1.1: a clean-session connect).
   */
  async stop(options: { endSession?: boolean } = {}): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const client = this.client;
    this.client = undefined;
    if (!client) return;
    let timer: NodeJS.Timeout | undefined;
    const v5End = options.endSession && this.broker.protocolVersion === 5;
    const graceful = (v5End ? client.endAsync(false, { properties: { sessionExpiryInterval: 0 } }) : client.endAsync(false)).then(() => true);
    const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 2000)));
    const ended = await Promise.race([graceful, late]);
    clearTimeout(timer);
    if (!ended) await Promise.race([client.endAsync(true), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    // A connection mqtt.js still holds (one being re-established when stop() came) is closed
    // too: a stopped gateway keeps no socket to the broker, and its session is free for the next.
    client.stream?.destroy();
    if (options.endSession && !v5End) {
      const clean = await connectAsync(this.broker.url, { ...this.clientOptions(), clean: true });
      await clean.endAsync();
    }
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
