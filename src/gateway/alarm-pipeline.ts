import type { GatewayConfig } from '../config/types.js';
import type { Received } from '../ingest/received.js';
import type { Due } from '../lifecycle/alarm.js';
import { decide } from '../lifecycle/decide.js';
import { fingerprintOf } from '../lifecycle/fingerprint.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import { buildAlarmEvent } from '../parse/build-alarm-event.js';
import { decodeMail, type DecodedMail } from '../parse/decode-mail.js';
import type { DeviceMap } from '../parse/device-map.js';
import { renderPassthrough, type OutgoingMessage } from '../render/passthrough.js';
import type { RoutingResult } from '../rules/route.js';
import { newId } from '../store/ids.js';
import type { PipelineResult, Store } from '../store/store.js';

/** The stages the pipeline composes, injected so each can be swapped, reloaded and tested. */
export interface PipelineStages {
  devices: DeviceMap;
  route(event: AlarmEvent, now: number): Promise<RoutingResult>;
  renderNotification(due: Due, original: Buffer): Promise<OutgoingMessage>;
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
export async function runAlarmPipeline(received: Received, config: GatewayConfig, stages: PipelineStages, store: Pick<Store, 'activeAlarm'>, now: number): Promise<PipelineTrace> {
  const alarms = config.alarms!;
  const listener = config.listeners.find((l) => l.name === received.listener);
  const mail = await decodeMail(received.raw, listener?.compat.fallbackCharset ?? 'windows-1252');
  const event = buildAlarmEvent(received, mail, stages.devices);
  const routing = await stages.route(event, now);
  const fingerprint = fingerprintOf(event, alarms.fingerprint);
  const decision = decide({ active: store.activeAlarm(fingerprint), event, route: routing.route, fingerprint, now, newAlarmId: () => newId(now) });
  const outbox = [];
  for (const due of decision.due) {
    const message = due.route.mode === 'passthrough' || due.route.template === 'passthrough' ? await passthrough(received, mail, due, config) : await stages.renderNotification(due, received.raw);
    if (message.recipients.length === 0) continue;
    outbox.push({ id: newId(now), receivedId: received.id, alarmId: due.alarm.id, ...message });
  }
  const reason = outbox.length < decision.due.length ? `${decision.reason}; no receiver has an address, nothing sent` : decision.reason;
  return { event, routing, fingerprint, result: { alarm: decision.alarm, outcome: decision.outcome, reason, outbox } };
}

function passthrough(received: Received, mail: DecodedMail, due: Due, config: GatewayConfig): Promise<OutgoingMessage> {
  const recipients = [...new Set(due.route.receivers.flatMap((r) => r.emails))];
  return renderPassthrough(received, mail, { relay: config.relay, hostname: config.gateway.hostname, domain: config.gateway.domain, recipients });
}
