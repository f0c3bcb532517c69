import type { DeviceConfig, MqttMapping } from '../config/schema.js';
import type { Received } from '../ingest/received.js';
import type { AlarmEvent, DeviceIdentity } from './alarm-event.js';
import { fillTemplate, flattenScalars, readPath } from './payload-path.js';
import { normaliseSeverity, normaliseState } from './severity.js';

/** The last state a numeric telemetry topic was in, kept in the store between messages. */
export interface TopicState {
  topic: string;
  state: 'active' | 'cleared';
  value: number;
  at: number;
}

export type MqttParseResult =
  | { kind: 'event'; event: AlarmEvent; topicState?: TopicState }
  /** Telemetry that changes no alarm (still normal, or still beyond the limit). */
  | { kind: 'no-change'; topicState: TopicState; reason: string }
  | { kind: 'bad'; reason: string };

export interface MqttParseInput {
  received: Received;
  topic: string;
  mapping: MqttMapping;
  segments: Record<string, string>;
  previous: TopicState | undefined;
  devices: readonly DeviceConfig[];
}

/** One MQTT message -> an alarm occurrence, per its topic's mapping. Pure. */
export function parseMqttMessage(input: MqttParseInput): MqttParseResult {
  const { mapping, received } = input;
  const text = received.raw.toString('utf8');
  switch (mapping.format) {
    case 'json':
      return fromJson(input, text, mapping);
    case 'text':
      return fromText(input, text.trim(), mapping);
    case 'number':
      return fromNumber(input, text.trim(), mapping);
  }
}

function fromJson(input: MqttParseInput, text: string, mapping: Extract<MqttMapping, { format: 'json' }>): MqttParseResult {
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch (error) {
    return { kind: 'bad', reason: `malformed JSON: ${error instanceof Error ? error.message : String(error)}` };
  }
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return { kind: 'bad', reason: 'the JSON payload is not an object' };
  const paths = mapping.paths;
  const read = (path: string | undefined): unknown => (path ? readPath(payload, path) : undefined);

  const rawState = read(paths.state);
  let state: 'active' | 'cleared' = 'active';
  if (rawState !== undefined) {
    if (typeof rawState === 'boolean') state = rawState ? 'active' : 'cleared';
    else if (typeof rawState === 'string' || typeof rawState === 'number') state = mapping.states[String(rawState)] ?? normaliseState(String(rawState));
    else return { kind: 'bad', reason: `${paths.state} is ${describe(rawState)}, not a state` };
  }
  const rawValue = read(paths.value);
  if (rawValue !== undefined && typeof rawValue !== 'number') return { kind: 'bad', reason: `${paths.value} is ${describe(rawValue)}, not a number` };
  const rawTime = read(paths.time);
  const deviceTime = rawTime === undefined ? undefined : parseTime(rawTime);
  if (rawTime !== undefined && deviceTime === undefined) return { kind: 'bad', reason: `${paths.time} is ${describe(rawTime)}, not an ISO 8601 time or epoch seconds/milliseconds` };
  const scalar = (path: string | undefined): string | undefined => {
    const value = read(path);
    return value === undefined || value === null || typeof value === 'object' ? undefined : String(value);
  };

  const event = baseEvent(input, payload);
  event.state = state;
  event.value = rawValue;
  event.deviceTime = deviceTime;
  event.code = scalar(paths.code);
  event.key = mapping.key ? fillTemplate(mapping.key, input.segments, payload) : (scalar(paths.key) ?? event.code);
  event.unit = scalar(paths.unit) ?? mapping.unit;
  event.severity = mapping.severity ?? normaliseSeverity(scalar(paths.severity));
  event.title = mapping.title ? fillTemplate(mapping.title, input.segments, payload) : (scalar(paths.title) ?? `${event.device.name}: ${event.key ?? input.topic}`);
  event.text = scalar(paths.text) ?? JSON.stringify(payload, null, 2);
  event.fields = { ...flattenScalars(payload), ...event.fields };
  return { kind: 'event', event };
}

function fromText(input: MqttParseInput, text: string, mapping: Extract<MqttMapping, { format: 'text' }>): MqttParseResult {
  const state = mapping.values[text] ?? mapping.values[text.toUpperCase()] ?? mapping.values[text.toLowerCase()];
  if (!state) return { kind: 'bad', reason: `"${text.slice(0, 40)}" is none of the mapped values (${Object.keys(mapping.values).join(', ')})` };
  const event = baseEvent(input, undefined);
  event.state = state;
  event.key = mapping.key ? fillTemplate(mapping.key, input.segments, undefined) : input.topic;
  event.severity = mapping.severity;
  event.unit = mapping.unit;
  event.title = mapping.title ? fillTemplate(mapping.title, input.segments, undefined) : `${event.device.name}: ${input.segments.alarm ?? input.topic}`;
  event.text = `${input.topic} = ${text}`;
  return { kind: 'event', event };
}

function fromNumber(input: MqttParseInput, text: string, mapping: Extract<MqttMapping, { format: 'number' }>): MqttParseResult {
  const value = Number(text);
  if (text === '' || !Number.isFinite(value)) return { kind: 'bad', reason: `"${text.slice(0, 40)}" is not a number` };
  const beyond = mapping.direction === 'above' ? value >= mapping.limit : value <= mapping.limit;
  const backInside = mapping.direction === 'above' ? value < mapping.limit - mapping.deadband : value > mapping.limit + mapping.deadband;
  const wasActive = input.previous?.state === 'active';
  const at = input.received.receivedAt;
  if (wasActive ? !backInside : !beyond) {
    const topicState: TopicState = { topic: input.topic, state: wasActive ? 'active' : 'cleared', value, at };
    return { kind: 'no-change', topicState, reason: wasActive ? 'still beyond the limit (within the deadband)' : 'within the limit' };
  }
  const state = wasActive ? 'cleared' : 'active';
  const event = baseEvent(input, undefined);
  event.state = state;
  event.value = value;
  event.unit = mapping.unit;
  event.severity = mapping.severity;
  event.key = mapping.key ? fillTemplate(mapping.key, input.segments, undefined) : `${input.topic} ${mapping.direction} ${mapping.limit}`;
  event.title = mapping.title
    ? fillTemplate(mapping.title, input.segments, undefined)
    : `${event.device.name}: ${input.segments.measurement ?? 'value'} ${mapping.direction} ${mapping.limit}${mapping.unit ? ` ${mapping.unit}` : ''}`;
  event.text = `${input.topic} = ${value}${mapping.unit ? ` ${mapping.unit}` : ''} (limit ${mapping.direction} ${mapping.limit}, deadband ${mapping.deadband})`;
  event.fields = { ...event.fields, limit: String(mapping.limit) };
  return { kind: 'event', event, topicState: { topic: input.topic, state, value, at } };
}

function baseEvent(input: MqttParseInput, payload: unknown): AlarmEvent {
  const { received, segments, topic } = input;
  const deviceId = fillTemplate(input.mapping.device, segments, payload);
  return {
    id: received.id,
    receivedAt: received.receivedAt,
    source: 'mqtt',
    listener: received.listener,
    device: identify(deviceId, segments, payload, input.devices),
    sender: null,
    recipients: [],
    peer: { address: received.peer.address },
    title: topic,
    text: '',
    fields: { topic, ...segments },
    state: 'active',
    attachments: [],
    patterns: [],
  };
}

function identify(id: string, segments: Record<string, string>, payload: unknown, devices: readonly DeviceConfig[]): DeviceIdentity {
  const known = devices.find((d) => d.id === id);
  if (known) return { id, name: known.name ?? id, site: known.site ?? segments.site, area: known.area ?? segments.area, description: known.description, matchedBy: 'topic' };
  const area = segments.area ?? stringAt(payload, 'device.area');
  return { id, name: id, site: segments.site, area: area ?? segments.line, matchedBy: 'fallback' };
}

function stringAt(payload: unknown, path: string): string | undefined {
  const value = readPath(payload, path);
  return typeof value === 'string' ? value : undefined;
}

/** ISO 8601 text, or epoch seconds or milliseconds (told apart by size). */
export function parseTime(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return value > 1e12 ? value : value * 1000;
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value).slice(0, 40)}`;
}
