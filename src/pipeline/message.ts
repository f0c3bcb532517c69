import type { RuleDefinition } from '../rules/rule-book.js';
import type { GatewayConfig } from '../config/types.js';
import type { Received } from '../ingest/received.js';
import { batchDues, type Batch, type BatchSummary } from '../lifecycle/batch.js';
import { escalationTimers } from '../lifecycle/escalation.js';
import type { EscalationPolicy } from '../rules/escalation-policy.js';
import { decide } from '../lifecycle/decide.js';
import { matchesAll, type MatchableAlarm } from '../lifecycle/alarm-matchers.js';
import { fingerprintOf } from '../lifecycle/fingerprint.js';
import { applyMute, findMute, type MuteContext } from '../lifecycle/mute.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import type { TopicState } from '../parse/mqtt-event.js';
import { buildAlarmEvent } from '../parse/build-alarm-event.js';
import type { DecodedMail } from '../parse/decode-mail.js';
import { decodeDeviceMail } from '../parse/undecodable-mail.js';
import type { DeviceMap } from '../parse/device-map.js';
import type { MqttMappings } from '../ingest/mqtt/mqtt-mappings.js';
import { parseMqttMessage } from '../parse/mqtt-event.js';
import type { OutgoingMessage } from '../render/outgoing-message.js';
import { renderPassthrough } from '../render/passthrough.js';
import type { RoutingResult } from '../rules/route.js';
import { newId } from '../base/ids.js';
import type { NewOutboxEntry, Repositories } from '../store/store.js';
import type { Alarm, Decision, Due } from '../lifecycle/alarm.js';
import type { EscalationTimer } from '../lifecycle/escalation.js';
import { floodScope, type FloodState } from '../lifecycle/flood.js';
import type { HeldNotification } from '../lifecycle/batch.js';
import { saveAlarmChange } from './alarm-change.js';
import type { Effects } from './effects.js';

/** The stages the pipeline composes, injected so each can be swapped, reloaded and tested. */
export interface PipelineStages {
  devices: DeviceMap;
  mqtt: MqttMappings;
  route(event: AlarmEvent, now: number): Promise<RoutingResult>;
  renderNotification(due: Due, original: Buffer): Promise<OutgoingMessage>;
  /** Escalation policies in force, by name (optional: stages without rule files have none). */
  escalation?(name: string): EscalationPolicy | undefined;
  /** One notification listing a group's or digest's alarms (lifecycle/batch.ts). */
  renderBatch?(batch: Batch, summary: BatchSummary, sentAt: number): Promise<OutgoingMessage>;
  /** The rules in force, for showing them (optional: stages built in tests may have none). */
  ruleList?(): readonly RuleDefinition[];
  /** The same stages, routing with each rule's reasons (a dry run). */
  explaining?(): PipelineStages;
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
  /** The notifications due after muting, sent now or held for a group or digest. */
  dues: Due[];
}

/** The middle of the pipeline's result for one received message, saved in its transaction. */
export interface PipelineResult {
  alarm?: Alarm;
  /** The active alarm of the fingerprint as the transaction read it, before this occurrence. */
  before?: Alarm;
  /** A numeric telemetry topic's new state. */
  topicState?: TopicState;
  outcome: Decision['outcome'];
  reason: string;
  outbox: NewOutboxEntry[];
  /** A newly raised alarm's escalation timers, stored with it. */
  escalationTimers?: EscalationTimer[];
  /** Notifications held for a group or digest (each joins the open batch of its key). */
  held?: HeldNotification[];
  /** Flood control's counters, per scope counted. */
  floodStates?: FloodState[];
}

/**
 * Received -> AlarmEvent -> Route -> Decision -> mute -> group/flood -> outbox entries. Reads the
 * state it needs through `tx`, writes nothing: the caller saves the result in the same transaction.
 */
export async function runAlarmPipeline(
  received: Received,
  config: GatewayConfig,
  stages: PipelineStages,
  tx: Repositories,
  now: number,
): Promise<PipelineTrace | UnusableMessage> {
  const parsed = await parseReceived(received, config, stages, (topic) => tx.topics.get(topic));
  if (!('event' in parsed)) return parsed;
  return decideEvent(parsed, received, config, stages, tx, now);
}

/** The stages after parse, for one alarm occurrence: route, fingerprint, decide, mute, group and flood, render. */
export async function decideEvent(
  parsed: ParsedMessage,
  received: Received,
  config: GatewayConfig,
  stages: PipelineStages,
  tx: Repositories,
  now: number,
): Promise<PipelineTrace> {
  const alarms = config.alarms!;
  const { event, mail, topicState } = parsed;
  const routing = await stages.route(event, now);
  const fingerprint = fingerprintOf(event, alarms.fingerprint);
  const active = await tx.alarms.active(fingerprint);
  const decided = decide({ active, event, route: routing.route, fingerprint, now, newAlarmId: () => newId(now), maxText: alarms.maxQuotedText });
  const mute = decided.alarm && decided.due.length > 0 ? findMute(decided.alarm, await muteContext(config, tx, now, decided.alarm)) : undefined;
  const decision = applyMute(decided, active, mute);
  const floodStates = new Map<string, FloodState | undefined>();
  if (alarms.floodControl.enabled && decision.alarm) {
    const scope = floodScope(decision.alarm, alarms.floodControl.per);
    floodStates.set(scope, await tx.batches.floodState(scope));
  }
  const batching = batchDues(decision.due, { now, ...(alarms.floodControl.enabled ? { flood: { settings: alarms.floodControl, state: (scope: string) => floodStates.get(scope) } } : {}) });
  const outbox = await renderDues(batching.send, received, mail, config, stages, now);
  const notes = batching.notes.map((note) => `; ${note}`).join('');
  // The history says what became of a mail that could not be decoded.
  const undecodable = event.undecodable ? `the mail (${event.undecodable.size} bytes) could not be decoded: ${event.undecodable.reason}; ` : '';
  const reason = outbox.length < batching.send.length ? `${undecodable}${decision.reason}${notes}; no receiver has an address, nothing sent` : `${undecodable}${decision.reason}${notes}`;
  const result: PipelineResult = {
    alarm: decision.alarm,
    ...(active ? { before: active } : {}),
    topicState,
    outcome: decision.outcome,
    reason,
    outbox,
    ...(batching.held.length > 0 ? { held: batching.held } : {}),
    ...(batching.floodStates.length > 0 ? { floodStates: batching.floodStates } : {}),
  };
  // A newly raised alarm (not suppressed) under an escalation policy gets its level timers.
  const policyName = routing.route.escalation;
  if (!active && decision.alarm?.state === 'active' && !routing.route.suppressedBy && policyName !== undefined) {
    const policy = stages.escalation?.(policyName);
    if (policy) {
      result.escalationTimers = escalationTimers(policy, decision.alarm.id, now);
      result.reason = `${result.reason}; escalation ${policy.name}: ${policy.levels.length} level(s)`;
    }
  }
  return { event, routing, fingerprint, result, dues: decision.due };
}

/**
 * What mutes alarms at `now`: current silences, and the active alarms that may inhibit.
 * Those are read only when an inhibit rule could hold back `target` (when given): reading
 * every active alarm costs as much as there are, and most alarms no rule targets.
 */
export async function muteContext(config: Pick<GatewayConfig, 'inhibit'>, tx: Pick<Repositories, 'silences' | 'alarms'>, now: number, target?: MatchableAlarm): Promise<MuteContext> {
  const inhibitable = target ? config.inhibit.some((rule) => matchesAll(target, rule.target)) : config.inhibit.length > 0;
  return {
    silences: await tx.silences.list(now),
    sources: inhibitable ? await tx.alarms.list(['active'], 100_000) : [],
    rules: config.inhibit,
    now,
  };
}

/** A received message as an alarm occurrence, with the decoded mail when it is one. */
export interface ParsedMessage {
  event: AlarmEvent;
  mail?: DecodedMail;
  topicState?: TopicState;
}

/** The parse stage: a mail or an MQTT message -> AlarmEvent; `previous` gives a telemetry topic's last state. */
export async function parseReceived(
  received: Received,
  config: GatewayConfig,
  stages: Pick<PipelineStages, 'devices' | 'mqtt'>,
  previous: (topic: string) => Promise<TopicState | undefined>,
): Promise<ParsedMessage | UnusableMessage> {
  if (received.mqtt) {
    const topic = received.mqtt.topic;
    const mapped = stages.mqtt.find(received.listener, topic);
    if (!mapped) return { unusable: true, reason: `no subscription of broker ${received.listener} maps topic ${topic}` };
    const parsed = parseMqttMessage({ received, topic, ...mapped, previous: await previous(topic), devices: config.devices });
    if (parsed.kind === 'bad') return { unusable: true, reason: parsed.reason };
    if (parsed.kind === 'no-change') return { unusable: false, reason: parsed.reason, topicState: parsed.topicState };
    return { event: parsed.event, ...(parsed.topicState ? { topicState: parsed.topicState } : {}) };
  }
  const listener = config.listeners.find((l) => l.name === received.listener);
  // A mail the parser fails on (the device was told 250) still becomes an alarm: "undecodable mail".
  const mail = await decodeDeviceMail(received, listener?.compat.fallbackCharset ?? 'windows-1252');
  return { event: buildAlarmEvent(received, mail, stages.devices), mail };
}

/** The render stage: each due notification as an outbox entry; one whose receivers have no address is left out. */
export async function renderDues(dues: Due[], received: Received, mail: DecodedMail | undefined, config: GatewayConfig, stages: PipelineStages, now: number): Promise<NewOutboxEntry[]> {
  const outbox: NewOutboxEntry[] = [];
  for (const due of dues) {
    const passthroughWanted = due.route.mode === 'passthrough' || due.route.template === 'passthrough';
    // An MQTT event has no mail to pass through; it always gets a notification. An undecodable
    // mail's notification always carries what came (truncated): it is all there is to read.
    const undecodable = mail?.undecodable;
    const message =
      passthroughWanted && mail
        ? await passthrough(received, mail, due, config)
        : undecodable
          ? await stages.renderNotification({ ...due, route: { ...due.route, attachOriginal: true } }, undecodable.original)
          : await stages.renderNotification(due, received.raw);
    if (message.recipients.length === 0) continue;
    outbox.push({ id: newId(now), receivedId: received.id, alarmId: due.alarm.id, ...message });
  }
  return outbox;
}

function passthrough(received: Received, mail: DecodedMail, due: Due, config: GatewayConfig): Promise<OutgoingMessage> {
  const recipients = [...new Set(due.route.receivers.flatMap((r) => r.emails))];
  return renderPassthrough(received, mail, { relay: config.relay, hostname: config.gateway.hostname, domain: config.gateway.domain, recipients });
}

/** Saves one message's pipeline result in its transaction: the topic state, the alarm change (or a history line for a message that gave none). */
export async function savePipelineResult(tx: Repositories, receivedId: string, result: PipelineResult, now: number, fx: Effects): Promise<void> {
  if (result.topicState) await tx.topics.save(result.topicState);
  if (!result.alarm) {
    await tx.alarms.log(null, { receivedId, at: now, outcome: result.outcome, reason: result.reason });
    return;
  }
  await saveAlarmChange(
    tx,
    result.before,
    {
      alarm: result.alarm,
      receivedId,
      outcome: result.outcome,
      reason: result.reason,
      outbox: result.outbox,
      ...(result.escalationTimers ? { escalations: result.escalationTimers } : {}),
      ...(result.held ? { held: result.held } : {}),
      ...(result.floodStates ? { floodStates: result.floodStates } : {}),
    },
    now,
    fx,
  );
}
