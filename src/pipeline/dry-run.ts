import { z } from 'zod';
import { newId } from '../base/ids.js';
import { severitySchema } from '../config/schema.js';
import type { GatewayConfig } from '../config/types.js';
import type { Received } from '../ingest/received.js';
import { findMute, type Mute } from '../lifecycle/mute.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import type { RoutingResult } from '../rules/route.js';
import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import type { Repositories } from '../store/store.js';
import { decideEvent, isTrace, muteContext, runAlarmPipeline, type ParsedMessage, type PipelineStages } from './message.js';

/**
 * A dry run of the pipeline's own code (`annunciator rules test`, `POST /api/v1/rules/test`):
 * what the gateway would make of one message, over a throw-away store, so nothing is
 * sent or stored and the decision is taken as if no alarm were active.
 */

/** A JSON alarm: what an MQTT event or a hand-written case would carry. */
export const jsonAlarmSchema = z.strictObject({
  device: z.union([z.string(), z.strictObject({ id: z.string(), name: z.string().optional(), site: z.string().optional(), area: z.string().optional(), description: z.string().optional() })]),
  title: z.string(),
  text: z.string().default(''),
  fields: z.record(z.string(), z.string()).default({}),
  state: z.enum(['active', 'cleared']).default('active'),
  severity: severitySchema.optional(),
  code: z.string().optional(),
  key: z.string().optional(),
  value: z.number().optional(),
  unit: z.string().optional(),
  sender: z.string().nullable().default(null),
  recipients: z.array(z.string()).default([]),
});

export type DryRunInput =
  /** A mail as a device sends it (RFC 5322); the envelope defaults to its From and To headers. */
  | { kind: 'mail'; raw: Buffer; from?: string; to?: string[] }
  /** An MQTT message as `broker` would deliver it on `topic`. */
  | { kind: 'mqtt'; broker: string; topic: string; payload: Buffer }
  /** A JSON alarm (jsonAlarmSchema). */
  | { kind: 'json'; alarm: z.output<typeof jsonAlarmSchema>; raw: Buffer };

export interface DryRunReport {
  /** The time the rules were evaluated at, and the zone their times of day are read in. */
  at: number;
  timeZone: string;
  event: AlarmEvent;
  routing: RoutingResult;
  fingerprint: string;
  /** The decision with no earlier state: raised, suppressed, held, ... */
  outcome: string;
  reason: string;
  /** The first notification as it would be sent (for one held for a group, as it goes out when no other alarm joins). */
  message?: Buffer;
  recipients?: string[];
  /** With `mutes`: the silence or inhibition that would hold its notification now. */
  mutedBy?: Mute;
}

/** The dry run of one message, or why it yields no alarm. */
export async function dryRun(
  input: DryRunInput,
  config: GatewayConfig,
  stages: PipelineStages,
  now: number,
  options: { mutes?: Pick<Repositories, 'silences' | 'alarms'> } = {},
): Promise<DryRunReport | { noAlarm: string }> {
  let received: Received;
  let parsed: ParsedMessage | undefined;
  if (input.kind === 'json') {
    const event = eventFromJson(input.alarm, config, now);
    received = { id: event.id, receivedAt: now, listener: 'rules-test', peer: { address: '127.0.0.1', port: 0, secure: false }, envelope: { mailFrom: event.sender ?? null, rcptTo: event.recipients }, raw: input.raw };
    parsed = { event };
  } else if (input.kind === 'mqtt') {
    received = {
      id: newId(now),
      receivedAt: now,
      listener: input.broker,
      peer: { address: '127.0.0.1', port: 0, secure: false },
      envelope: { mailFrom: null, rcptTo: [] },
      raw: input.payload,
      mqtt: { topic: input.topic, qos: 1, retain: false, dup: false },
    };
  } else {
    received = receivedFromEml(input.raw, input, now);
  }
  const scratch = new SqliteStore(':memory:');
  const trace = await scratch
    .transaction(async (tx) => (parsed ? decideEvent(parsed, received, config, stages, tx, now) : runAlarmPipeline(received, config, stages, tx, now)))
    .finally(() => scratch.close());
  if (!isTrace(trace)) return { noAlarm: trace.reason };
  const held = trace.result.outbox.length === 0 && trace.result.held?.length ? trace.dues[0] : undefined;
  const first = held ? await stages.renderNotification(held, received.raw) : trace.result.outbox[0];
  const alarm = trace.result.alarm;
  const mutedBy = options.mutes && alarm ? findMute(alarm, await muteContext(config, options.mutes, now, alarm)) : undefined;
  return {
    at: now,
    timeZone: config.alarms!.timeZone,
    event: trace.event,
    routing: trace.routing,
    fingerprint: trace.fingerprint,
    outcome: trace.result.outcome,
    reason: trace.result.reason,
    ...(first ? { message: first.message, recipients: first.recipients } : {}),
    ...(mutedBy ? { mutedBy } : {}),
  };
}

function receivedFromEml(raw: Buffer, envelope: { from?: string; to?: string[] }, now: number): Received {
  const headers = raw.toString('latin1').split(/\r?\n\r?\n/, 1)[0] ?? '';
  const address = (name: string) => {
    const value = new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(headers)?.[1];
    return value ? (/<([^>]+)>/.exec(value)?.[1] ?? value).trim() : undefined;
  };
  return {
    id: newId(now),
    receivedAt: now,
    listener: 'rules-test',
    peer: { address: '127.0.0.1', port: 0, helo: 'localhost', secure: false },
    envelope: { mailFrom: envelope.from ?? address('From') ?? null, rcptTo: envelope.to && envelope.to.length > 0 ? envelope.to : [address('To') ?? 'alarms@example.com'] },
    raw,
  };
}

function eventFromJson(input: z.output<typeof jsonAlarmSchema>, config: GatewayConfig, now: number): AlarmEvent {
  const known = typeof input.device === 'string' ? config.devices.find((d) => d.id === input.device) : undefined;
  const device =
    typeof input.device === 'string'
      ? { id: input.device, name: known?.name ?? input.device, site: known?.site, area: known?.area, description: known?.description, matchedBy: known ? ('sender' as const) : ('fallback' as const) }
      : { ...input.device, name: input.device.name ?? input.device.id, matchedBy: 'fallback' as const };
  const { device: _device, ...rest } = input;
  return { ...rest, id: newId(now), receivedAt: now, source: 'cli', listener: 'rules-test', device, peer: { address: '127.0.0.1' }, attachments: [], patterns: [] };
}
