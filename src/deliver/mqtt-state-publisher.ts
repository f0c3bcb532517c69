import type { MqttConnection } from '../base/mqtt-connection.js';
import type { MqttBrokerConfig } from '../config/types.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { OutboxRecord, Store } from '../store/store.js';

/** The retained JSON an HMI or dashboard reads under `<prefix>/alarms/<id>`. */
export function alarmStatePayload(alarm: Alarm): string {
  return JSON.stringify({
    id: alarm.id,
    state: alarm.state,
    acknowledged: alarm.ack !== undefined,
    ack: alarm.ack ? { by: alarm.ack.by, at: new Date(alarm.ack.at).toISOString(), channel: alarm.ack.channel } : null,
    severity: alarm.severity,
    title: alarm.title,
    device: { id: alarm.device.id, name: alarm.device.name, site: alarm.device.site ?? null, area: alarm.device.area ?? null },
    count: alarm.count,
    firstSeen: new Date(alarm.firstSeen).toISOString(),
    lastSeen: new Date(alarm.lastSeen).toISOString(),
    resolvedAt: alarm.resolvedAt ? new Date(alarm.resolvedAt).toISOString() : null,
    notifications: alarm.notifications,
  });
}

/**
 * Alarm state back to the broker: retained per alarm while it is active or not yet
 * acknowledged, removed (empty retained payload) once it is resolved and acknowledged.
 * Published again in full on every (re)connect, so a publish lost to a crash or an
 * outage is made good.
 *
 * The retained state is published by the leading gateway only (`lead`), so that two
 * gateways cannot overwrite each other's newer state with an older one; on taking the lead
 * it publishes everything again. The notifications topic (not retained) is each gateway's
 * own record of what it delivered.
 */
export class MqttStatePublisher {
  private readonly prefix: string;
  private readonly qos: 0 | 1;
  private leading = false;

  constructor(
    private readonly connection: MqttConnection,
    broker: MqttBrokerConfig,
    private readonly store: Pick<Store, 'alarms'>,
  ) {
    this.prefix = broker.publish.prefix;
    this.qos = broker.publish.qos;
    connection.onConnected(() => {
      if (this.leading) this.publishAll();
    });
  }

  /** Starts (true) or stops (false) publishing the retained state; starting publishes it all. */
  lead(leading: boolean): void {
    const gained = leading && !this.leading;
    this.leading = leading;
    if (gained && this.connection.connected) this.publishAll();
  }

  publishAlarm(alarm: Alarm): void {
    if (!this.leading) return;
    const topic = `${this.prefix}/alarms/${alarm.id}`;
    const done = alarm.state === 'resolved' && alarm.ack !== undefined;
    this.connection.publish(topic, done ? '' : alarmStatePayload(alarm), { retain: true, qos: this.qos });
  }

  publishNotification(entry: OutboxRecord, account: string): void {
    if (!entry.alarmId && !entry.batchId) return;
    // A group or digest names its batch; its alarms are the batch's (annunciator alarms --show).
    const about = entry.alarmId ? { alarm: entry.alarmId, ...(entry.batchId ? { batch: entry.batchId } : {}) } : { batch: entry.batchId };
    this.connection.publish(
      `${this.prefix}/notifications`,
      JSON.stringify({ ...about, notification: entry.id, recipients: entry.recipients, account, at: new Date().toISOString() }),
      { retain: false, qos: this.qos },
    );
  }

  private publishAll(): void {
    this.store.alarms.list(['active', 'resolved'], 1000).then(
      (alarms) => alarms.forEach((alarm) => this.publishAlarm(alarm)),
      // The next connect publishes them again.
      () => undefined,
    );
  }
}
