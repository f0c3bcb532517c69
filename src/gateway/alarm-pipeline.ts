import type { GatewayConfig } from '../config/types.js';
import type { Received } from '../ingest/received.js';
import type { Due } from '../lifecycle/alarm.js';
import { decide } from '../lifecycle/decide.js';
import { fingerprintOf } from '../lifecycle/fingerprint.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import type { TopicState } from '../parse/mqtt-event.js';
import { buildAlarmEvent } from '../parse/build-alarm-event.js';
import { decodeMail, type DecodedMail } from '../parse/decode-mail.js';
import type { DeviceMap } from '../parse/device-map.js';
import type { MqttMappings } from '../parse/mqtt-mappings.js';
import { parseMqttMessage } from '../parse/mqtt-event.js';
import { renderPassthrough, type OutgoingMessage } from '../render/passthrough.js';
import type { RoutingResult } from '../rules/route.js';
import { newId } from '../store/ids.js';
import type { PipelineResult, Store } from '../store/store.js';

/** The stages the pipeline composes, injected so each can be swapped, reloaded and tested. */
export interface PipelineStages {
  devices: DeviceMap;
  mqtt: MqttMappings;
  route(event: AlarmEvent, now: number): Promise<RoutingResult>;
  renderNotification(due: Due, original: Buffer): Promise<OutgoingMessage>;
}

/** A message that yields no alarm: bad (`unusable`) or telemetry that changes nothing. */
export interface UnusableMessage {
  unusable: boolean;
  reason: string;
  topicState?: TopicState;
}

export function isTrace(value: PipelineTrace | UnusableMessage): value is PipelineTrace {
  return 'event' in value;
}

export interface PipelineTrace {
  event: AlarmEvent;
  routing: RoutingResult;
  fingerprint: string;
  result: PipelineResult;
}

/**
 * Received -> AlarmEvent -> Route -> Decision -> outbox entries. Reads the alarm state it
 * needs from the store, writes nothing: the caller commits the result in one transaction.
 */
export async function runAlarmPipeline(
  received: Received,
  config: GatewayConfig,
  stages: PipelineStages,
  store: Pick<Store, 'activeAlarm' | 'topicState'>,
  now: number,
): Promise<PipelineTrace | UnusableMessage> {
  const alarms = config.alarms!;
  let mail: DecodedMail | undefined;
  let event: AlarmEvent;
  let topicState: TopicState | undefined;
  if (received.mqtt) {
    const topic = received.mqtt.topic;
    const mapped = stages.mqtt.find(received.listener, topic);
    if (!mapped) return { unusable: true, reason: `no subscription of broker ${received.listener} maps topic ${topic}` };
    const parsed = parseMqttMessage({ received, topic, ...mapped, previous: store.topicState(topic), devices: config.devices });
    if (parsed.kind === 'bad') return { unusable: true, reason: parsed.reason };
    if (parsed.kind === 'no-change') return { unusable: false, reason: parsed.reason, topicState: parsed.topicState };
    event = parsed.event;
    topicState = parsed.topicState;
  } else {
    const listener = config.listeners.find((l) => l.name === received.listener);
    mail = await decodeMail(received.raw, listener?.compat.fallbackCharset ?? 'windows-1252');
    event = buildAlarmEvent(received, mail, stages.devices);
  }
  const routing = await stages.route(event, now);
  const fingerprint = fingerprintOf(event, alarms.fingerprint);
  const decision = decide({ active: store.activeAlarm(fingerprint), event, route: routing.route, fingerprint, now, newAlarmId: () => newId(now) });
  const outbox = [];
  for (const due of decision.due) {
    const passthroughWanted = due.route.mode === 'passthrough' || due.route.template === 'passthrough';
    // An MQTT event has no mail to pass through; it always gets a notification.
    const message = passthroughWanted && mail ? await passthrough(received, mail, due, config) : await stages.renderNotification(due, received.raw);
    if (message.recipients.length === 0) continue;
    outbox.push({ id: newId(now), receivedId: received.id, alarmId: due.alarm.id, ...message });
  }
  const reason = outbox.length < decision.due.length ? `${decision.reason}; no receiver has an address, nothing sent` : decision.reason;
  return { event, routing, fingerprint, result: { alarm: decision.alarm, topicState, outcome: decision.outcome, reason, outbox } };
}

function passthrough(received: Received, mail: DecodedMail, due: Due, config: GatewayConfig): Promise<OutgoingMessage> {
  const recipients = [...new Set(due.route.receivers.flatMap((r) => r.emails))];
  return renderPassthrough(received, mail, { relay: config.relay, hostname: config.gateway.hostname, domain: config.gateway.domain, recipients });
}
