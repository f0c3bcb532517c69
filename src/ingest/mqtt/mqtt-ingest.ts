import type { IConnackPacket, IPublishPacket, ISubscriptionGrant } from 'mqtt';
import { newId } from '../../base/ids.js';
import { MqttConnection } from '../../base/mqtt-connection.js';
import type { MqttBrokerConfig } from '../../config/types.js';
import type { Logger } from '../../log/logger.js';
import { RateLimitedLog } from '../../log/rate-limited-log.js';
import type { MqttSession, Store } from '../../store/store.js';
import type { Received } from '../received.js';
import type { MqttMappings } from './mqtt-mappings.js';

export interface MqttStats {
  received: number;
  committed: number;
  duplicates: number;
  acks: number;
  /** Connects on which the broker had lost the session we set up with it (and what it held for us). */
  sessionsLost: number;
  /** Messages dropped or rejected, by reason kind. */
  rejected: Record<string, number>;
}

export interface MqttIngestOptions {
  broker: MqttBrokerConfig;
  mappings: MqttMappings;
  store: Pick<Store, 'inbox' | 'mqttSessions'>;
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
  readonly stats: MqttStats = { received: 0, committed: 0, duplicates: 0, acks: 0, sessionsLost: 0, rejected: {} };
  private readonly badLog: RateLimitedLog;
  private readonly now: () => number;
  private readonly ackTopic: string;
  private subscribed = false;
  /** Drains of gone gateways' sessions under way: a stop ends them too (they yield). */
  private readonly drains = new Set<MqttConnection>();
  /** When the broker set up the session this process found missing and began (undefined: it found one already there). */
  private sessionStartedAt: number | undefined;
  /** When the current session began, as far as known: packet ids name messages only within it. */
  private sessionStart: Promise<number | undefined> = Promise.resolve(undefined);

  /** Connected with the subscriptions in place: from now on nothing published is missed. */
  get ready(): boolean {
    return this.connection.connected && this.subscribed;
  }

  constructor(private readonly options: MqttIngestOptions) {
    this.now = options.now ?? Date.now;
    this.badLog = new RateLimitedLog(options.logger, options.broker.badPayloadLogInterval, this.now);
    this.ackTopic = `${options.broker.publish.prefix}/ack`;
    this.connection = new MqttConnection(options.broker, options.logger, (packet) => this.handle(packet));
    this.connection.onConnected((sessionPresent, connack) => {
      this.subscribed = false;
      const { broker, store, logger } = options;
      // A store that cannot be read must not keep us from subscribing: then every filter is subscribed again.
      const known = store.mqttSessions.get(sessionUrl(broker.url), broker.clientId).catch((error: unknown) => {
        logger.warn({ err: error }, 'cannot read which MQTT session we set up; subscribing every filter again');
        return undefined;
      });
      // Set before any message of this connection is handled: a redelivery is looked for only within this session.
      if (!sessionPresent) {
        this.sessionStartedAt = this.now();
        this.sessionStart = Promise.resolve(this.sessionStartedAt);
      } else if (this.sessionStartedAt === undefined) {
        this.sessionStart = known.then((session) => session?.startedAt || undefined);
      }
      this.resume(sessionPresent, connack, known).then(
        () => (this.subscribed = true),
        (error: unknown) => logger.error({ err: error }, 'subscribe failed; tried again on the next connect'),
      );
    });
  }

  /**
   * After a connect: says whether the broker kept the session we set up with it (a known
   * session missing means it lost what it held for us), then subscribes what the session
   * lacks (all on a new session, new filters on a kept one) and unsubscribes filters no
   * longer configured, remembering the session in the store.
   */
  private async resume(sessionPresent: boolean, connack: IConnackPacket, knownSession: Promise<MqttSession | undefined>): Promise<void> {
    const { broker, mappings, store, logger } = this.options;
    const url = sessionUrl(broker.url);
    const filters = [...new Set([...mappings.filters(broker.name), this.ackTopic])].map((f) => subscriptionFilter(broker, f)).sort();
    this.checkConnack(connack);
    const known = await knownSession;
    if (!sessionPresent && known) {
      this.stats.sessionsLost += 1;
      logger.error(
        { url, clientId: broker.clientId, sessionStartedAt: known.startedAt ? new Date(known.startedAt).toISOString() : 'unknown', lost: this.stats.sessionsLost },
        `the MQTT broker has lost our persistent session (CONNACK without session) for client id ${broker.clientId}: events it held for us or received while we were disconnected are lost. ` +
          'It restarted without persistence (Mosquitto: persistence true, a writable persistence_location), crashed before saving it (autosave_interval), expired it (persistent_client_expiration), ' +
          'or another client connected with this client id and a clean session. Subscribing again',
      );
    } else {
      logger.info({ url, clientId: broker.clientId, sessionPresent, known: known !== undefined }, sessionPresent ? 'the broker kept our session' : 'new session with the broker');
    }
    const kept = sessionPresent && known !== undefined;
    const subscribe = kept ? filters.filter((f) => !known.filters.includes(f)) : filters;
    const unsubscribe = kept ? known.filters.filter((f) => !filters.includes(f)) : [];
    const refused = new Set<string>();
    if (subscribe.length > 0) {
      for (const grant of await this.connection.subscribe(subscribe)) this.checkGrant(grant, refused);
      logger.info({ filters: subscribe }, 'subscribed');
    }
    if (unsubscribe.length > 0) {
      await this.connection.unsubscribe(unsubscribe);
      logger.info({ filters: unsubscribe }, 'unsubscribed: no longer configured');
    }
    // At every connect, kept or not: the record also says which gateway holds the session now
    // (on a shared store, the leader drains the sessions of gateways that are gone).
    // A refused filter is not part of the session: the next connect asks for it again.
    const startedAt = sessionPresent ? (known?.startedAt ?? this.sessionStartedAt ?? 0) : (this.sessionStartedAt ?? this.now());
    await store.mqttSessions.save({ url, clientId: broker.clientId, filters: filters.filter((f) => !refused.has(f)), startedAt }).catch((error: unknown) => {
      logger.warn({ err: error }, 'cannot record the MQTT session we set up: a later loss of it is not recognised as one, and a kept session is subscribed again in full');
    });
  }

  /** MQTT 5 says in the CONNACK what the broker will not do for us. */
  private checkConnack(connack: IConnackPacket): void {
    const properties = connack.properties;
    if (!properties) return;
    if (properties.maximumQoS === 0) {
      this.options.logger.error({ maximumQoS: 0 }, 'the MQTT broker allows only QoS 0: it keeps nothing for us while we are disconnected and resends nothing we did not acknowledge; events can be lost');
    }
    if (properties.sessionExpiryInterval !== undefined && properties.sessionExpiryInterval !== 0xffffffff) {
      this.options.logger.warn(
        { sessionExpiryInterval: properties.sessionExpiryInterval },
        `the MQTT broker keeps our session only ${properties.sessionExpiryInterval} s after a disconnect: events published while the gateway is away longer are lost`,
      );
    }
  }

  private checkGrant(grant: ISubscriptionGrant, refused: Set<string>): void {
    if (grant.qos >= 128) {
      refused.add(grant.topic);
      this.options.logger.error({ topic: grant.topic, code: grant.qos }, 'the broker refused the subscription: events on it are not received');
    } else if (grant.qos === 0) {
      this.options.logger.error(
        { topic: grant.topic },
        'the broker granted QoS 0 instead of 1: it keeps nothing on this subscription for us while we are disconnected and resends nothing we did not acknowledge; events can be lost (Mosquitto: max_qos, ACLs)',
      );
    }
  }

  /** Connects, except in leader mode: there the gateway connects once told it leads (lead()). */
  start(): void {
    if (this.options.broker.subscribe.kind !== 'leader') this.connection.start();
  }

  /**
   * Leader mode (a broker without shared subscriptions, several gateways on one database):
   * only the leader holds the session, under the client id every gateway uses, so the
   * subscriptions and the events queued while no gateway was connected move with the
   * leadership; a gateway that stops leading leaves the session to the next.
   */
  async lead(leading: boolean): Promise<void> {
    if (this.options.broker.subscribe.kind !== 'leader' || leading === this.connection.running) return;
    this.options.logger.info({ clientId: this.options.broker.clientId }, leading ? 'leading: taking the MQTT session' : 'no longer leading: leaving the MQTT session to the leader');
    if (leading) this.connection.start();
    else await this.connection.stop();
  }

  async stop(): Promise<void> {
    await Promise.all([this.connection.stop(), ...[...this.drains].map((drain) => drain.stop())]);
  }

  /** A committed message the pipeline could not use (malformed JSON, wrong types). */
  reportUnusable(received: Received, reason: string): void {
    const topic = received.mqtt?.topic ?? '?';
    this.reject('bad-payload', topic, reason, received.id);
  }

  /** One message from the broker; resolves once it is committed (or refused) and may be acknowledged. */
  async handle(packet: IPublishPacket): Promise<void> {
    await this.take(packet, this.options.broker.clientId, this.sessionStart);
  }

  /**
   * Drains the persistent session that a gateway now gone set up with this broker under its
   * own client id (a shared subscription's member: the broker keeps giving it a share and
   * queues it): connects as that client id, commits what the session delivers through the
   * same path as our own messages (commit before PUBACK, a redelivery recognised within
   * that session), and once the broker has been quiet for a while, unsubscribes and ends the
   * session for good, so the broker stops giving it a share. It yields, leaving the session
   * as it is, when the gateway is back (`stillGone` false) or takes the session over
   * (the broker closes our connection). Resolves with what it committed, or undefined when it yielded.
   */
  async drain(session: MqttSession, stillGone: () => Promise<boolean>): Promise<{ committed: number; duplicates: number } | undefined> {
    const { broker, logger } = this.options;
    const counts = { committed: 0, duplicates: 0 };
    const sessionStart = Promise.resolve(session.startedAt || undefined);
    const log = logger.child({ drain: session.clientId });
    const connection = new MqttConnection(
      { ...broker, clientId: session.clientId },
      log,
      async (packet) => {
        const outcome = await this.take(packet, session.clientId, sessionStart);
        if (outcome === 'committed') counts.committed += 1;
        else if (outcome === 'duplicate') counts.duplicates += 1;
      },
      true,
    );
    const connected = new Promise<boolean>((resolve) => connection.onConnected((present) => resolve(present)));
    this.drains.add(connection);
    connection.start();
    try {
      const present = await Promise.race([connected, until(() => !connection.running).then(() => undefined)]);
      if (present === undefined) return undefined;
      // Without a session (the broker lost or ended it) ours is a new, empty one: it is ended below all the same.
      // Under steady traffic the session keeps getting a share: it is unsubscribed after a while however busy.
      if (present) await until(async () => !connection.running || (Date.now() - connection.lastMessageAt >= DRAIN_QUIET_MS && (await settled(connection))), DRAIN_MAX_MS);
      if (!connection.connected || !(await stillGone()) || !connection.connected) return undefined;
      // No new share from here on; what the broker had sent already is handled before the end.
      // A takeover under way fails the UNSUBSCRIBE ("Connection closed") or leaves it waiting for a connection: the drain yields.
      if (present) await Promise.race([connection.unsubscribe(session.filters).catch(() => undefined), until(() => !connection.connected)]);
      if (!connection.connected) return undefined;
      await until(async () => !connection.running || (Date.now() - connection.lastMessageAt >= DRAIN_QUIET_MS && (await settled(connection))));
      if (!connection.connected) return undefined;
      await connection.stop({ endSession: true });
      return counts;
    } finally {
      this.drains.delete(connection);
      await connection.stop();
    }
  }

  /** One message of the session of `clientId` (ours, or a gone gateway's being drained). */
  private async take(packet: IPublishPacket, clientId: string, sessionStart: Promise<number | undefined>): Promise<'committed' | 'duplicate' | 'other'> {
    const { broker, mappings, store } = this.options;
    const topic = packet.topic;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    this.stats.received += 1;
    if (topic === this.ackTopic) {
      await this.acknowledge(payload, topic);
      return 'other';
    }
    if (payload.length > broker.maxPayloadSize) {
      this.reject('oversize', topic, `payload of ${payload.length} bytes exceeds maxPayloadSize ${broker.maxPayloadSize}`);
      return 'other';
    }
    if (!mappings.find(broker.name, topic)) {
      this.reject('unknown-topic', topic, 'no subscription maps this topic');
      return 'other';
    }
    const now = this.now();
    // Only a message committed in this session can be the one sent again: an older session's may have had the same packet id, topic and payload.
    if (packet.dup && packet.messageId !== undefined && (await store.inbox.isRedelivery(topic, packet.messageId, payload, Math.max(now - REDELIVERY_WINDOW, (await sessionStart) ?? 0), clientId))) {
      this.stats.duplicates += 1;
      this.options.logger.info({ topic, messageId: packet.messageId, clientId }, 'redelivered message already committed; acknowledged, not processed again');
      return 'duplicate';
    }
    const url = new URL(broker.url);
    const received: Received = {
      id: newId(now),
      receivedAt: now,
      listener: broker.name,
      peer: { address: url.hostname, port: Number(url.port) || 0, secure: url.protocol === 'mqtts:' || url.protocol === 'wss:' },
      envelope: { mailFrom: null, rcptTo: [] },
      raw: payload,
      mqtt: {
        topic,
        qos: packet.qos,
        retain: packet.retain,
        dup: packet.dup,
        clientId,
        ...(packet.messageId !== undefined ? { messageId: packet.messageId } : {}),
      },
    };
    const size = payload.length;
    // From here the store owns the payload (store.ts): the inbox runner may free it any time.
    await this.options.commit(received);
    this.stats.committed += 1;
    this.options.logger.debug({ msgId: received.id, topic, size, clientId }, 'accepted MQTT message');
    return 'committed';
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

/** How long the broker sends nothing to a drain before it counts the session as emptied (ms). */
const DRAIN_QUIET_MS = 500;

/** How long a drain waits for quiet before it unsubscribes anyway (ms). */
const DRAIN_MAX_MS = 10_000;

/** Resolves once `done` says so, looked at every 50 ms, or after `limitMs`. */
async function until(done: () => boolean | Promise<boolean>, limitMs = Infinity): Promise<void> {
  const end = Date.now() + limitMs;
  while (!(await done()) && Date.now() < end) await new Promise((resolve) => setTimeout(resolve, 50));
}

/** Whether the handler has nothing under way (an answer within 50 ms). */
async function settled(connection: MqttConnection): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 50)));
  const done = await Promise.race([connection.idle().then(() => true as const), late]);
  clearTimeout(timer);
  return done;
}

/** A filter as subscribed: in a shared group, `$share/<group>/<filter>` (the broker then gives each event to one member). */
function subscriptionFilter(broker: MqttBrokerConfig, filter: string): string {
  return broker.subscribe.kind === 'shared' ? `$share/${broker.subscribe.group}/${filter}` : filter;
}

/** The broker's identity for the session record: the URL without credentials. */
export function sessionUrl(url: string): string {
  const parsed = new URL(url);
  parsed.username = '';
  parsed.password = '';
  return parsed.toString().replace(/\/$/, '');
}
