import type { IPublishPacket } from 'mqtt';
import { newId } from '../../base/ids.js';
import { MqttConnection } from '../../base/mqtt-connection.js';
import type { MqttBrokerConfig } from '../../config/types.js';
import type { Logger } from '../../log/logger.js';
import { RateLimitedLog } from '../../log/rate-limited-log.js';
import type { Store } from '../../store/store.js';
import type { Received } from '../received.js';
import type { MqttMappings } from './mqtt-mappings.js';

export interface MqttStats {
  received: number;
  committed: number;
  duplicates: number;
  acks: number;
  /** Messages dropped or rejected, by reason kind. */
  rejected: Record<string, number>;
}

export interface MqttIngestOptions {
  broker: MqttBrokerConfig;
  mappings: MqttMappings;
  store: Pick<Store, 'inbox'>;
  /** Commits the message durably; a rejection leaves it unacknowledged. */
  commit: (received: Received) => Promise<void>;
  /**
   * Records acknowledgements through the pipeline's one decision, and says for each whether
   * it was recorded, found the alarm acknowledged already, or found no such alarm.
   */
  acknowledge: (requests: { alarmId: string; ack: MqttAck }[]) => Promise<{ outcome: 'recorded' | 'already' | 'unknown-alarm' }[]>;
  logger: Logger;
  now?: () => number;
}

/** An acknowledgement as it arrives on `<prefix>/ack`. */
export interface MqttAck {
  by: string;
  at: number;
  channel: 'mqtt';
  ref: string;
  comment?: string;
}

const REDELIVERY_WINDOW = 24 * 3_600_000;

/**
 * MQTT in: each message on a mapped topic is committed to the store before the broker
 * gets its PUBACK; oversize payloads and unknown topics are counted, logged once per
 * topic per interval, and acknowledged so they cannot block the session. Acknowledgements
 * arrive on `<prefix>/ack`.
 */
export class MqttIngest {
  readonly connection: MqttConnection;
  readonly stats: MqttStats = { received: 0, committed: 0, duplicates: 0, acks: 0, rejected: {} };
  private readonly badLog: RateLimitedLog;
  private readonly now: () => number;
  private readonly ackTopic: string;
  private subscribed = false;

  /** Connected with the subscriptions in place: from now on nothing published is missed. */
  get ready(): boolean {
    return this.connection.connected && this.subscribed;
  }

  constructor(private readonly options: MqttIngestOptions) {
    this.now = options.now ?? Date.now;
    this.badLog = new RateLimitedLog(options.logger, options.broker.badPayloadLogInterval, this.now);
    this.ackTopic = `${options.broker.publish.prefix}/ack`;
    this.connection = new MqttConnection(options.broker, options.logger, (packet) => this.handle(packet));
    this.connection.onConnected((sessionPresent) => {
      if (sessionPresent) {
        this.subscribed = true;
        return;
      }
      // A new or lost session: subscribe (QoS 1) so the broker keeps our messages while we are away.
      const filters = [...options.mappings.filters(options.broker.name), this.ackTopic];
      this.connection.subscribe(filters).then(
        () => {
          this.subscribed = true;
          options.logger.info({ filters }, 'subscribed');
        },
        (error: unknown) => options.logger.error({ err: error }, 'subscribe failed'),
      );
    });
  }

  start(): void {
    this.connection.start();
  }

  stop(): Promise<void> {
    return this.connection.stop();
  }

  /** A committed message the pipeline could not use (malformed JSON, wrong types). */
  reportUnusable(received: Received, reason: string): void {
    const topic = received.mqtt?.topic ?? '?';
    this.reject('bad-payload', topic, reason, received.id);
  }

  /** One message from the broker; resolves once it is committed (or refused) and may be acknowledged. */
  async handle(packet: IPublishPacket): Promise<void> {
    const { broker, mappings, store } = this.options;
    const topic = packet.topic;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    this.stats.received += 1;
    if (topic === this.ackTopic) return this.acknowledge(payload, topic);
    if (payload.length > broker.maxPayloadSize) return this.reject('oversize', topic, `payload of ${payload.length} bytes exceeds maxPayloadSize ${broker.maxPayloadSize}`);
    if (!mappings.find(broker.name, topic)) return this.reject('unknown-topic', topic, 'no subscription maps this topic');
    const now = this.now();
    if (packet.dup && packet.messageId !== undefined && (await store.inbox.isRedelivery(topic, packet.messageId, payload, now - REDELIVERY_WINDOW))) {
      this.stats.duplicates += 1;
      this.options.logger.info({ topic, messageId: packet.messageId }, 'redelivered message already committed; acknowledged, not processed again');
      return;
    }
    const url = new URL(broker.url);
    const received: Received = {
      id: newId(now),
      receivedAt: now,
      listener: broker.name,
      peer: { address: url.hostname, port: Number(url.port) || 0, secure: url.protocol === 'mqtts:' || url.protocol === 'wss:' },
      envelope: { mailFrom: null, rcptTo: [] },
      raw: payload,
      mqtt: { topic, qos: packet.qos, retain: packet.retain, dup: packet.dup, ...(packet.messageId !== undefined ? { messageId: packet.messageId } : {}) },
    };
    await this.options.commit(received);
    this.stats.committed += 1;
    this.options.logger.debug({ msgId: received.id, topic, size: payload.length }, 'accepted MQTT message');
  }

  private async acknowledge(payload: Buffer, topic: string): Promise<void> {
    let request: { alarm?: unknown; by?: unknown; comment?: unknown };
    try {
      request = JSON.parse(payload.toString('utf8')) as typeof request;
    } catch {
      return this.reject('bad-ack', topic, 'an acknowledgement is JSON: {"alarm": "<id>", "by": "<name>"}');
    }
    if (typeof request?.alarm !== 'string' || typeof request.by !== 'string' || request.by.trim() === '') {
      return this.reject('bad-ack', topic, 'an acknowledgement needs "alarm" (the alarm id) and "by" (who)');
    }
    const comment = typeof request.comment === 'string' ? request.comment.slice(0, 500) : undefined;
    const by = request.by.slice(0, 100);
    const [result] = await this.options.acknowledge([{ alarmId: request.alarm, ack: { by, at: this.now(), channel: 'mqtt', ref: topic, ...(comment ? { comment } : {}) } }]);
    if (!result || result.outcome === 'unknown-alarm') return this.reject('bad-ack', topic, `no alarm ${request.alarm}`);
    this.stats.acks += 1;
    if (result.outcome === 'already') {
      this.options.logger.info({ alarmId: request.alarm, by }, 'alarm already acknowledged; the first acknowledgement stays');
      return;
    }
    this.options.logger.info({ alarmId: request.alarm, by, channel: 'mqtt' }, 'alarm acknowledged');
  }

  private reject(kind: string, topic: string, reason: string, msgId?: string): void {
    this.stats.rejected[kind] = (this.stats.rejected[kind] ?? 0) + 1;
    this.badLog.warn(`${kind}|${topic}`, { topic, kind, reason, count: this.stats.rejected[kind], ...(msgId ? { msgId } : {}) }, `MQTT message refused: ${reason}`);
  }
}
