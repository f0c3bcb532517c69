import { SqliteStore } from '../store/sqlite/sqlite-store.js';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { newId } from '../base/ids.js';
import { formatZoned, parseZonedDateTime } from '../base/zoned-clock.js';
import { severitySchema } from '../config/schema.js';
import type { GatewayConfig } from '../config/types.js';
import { decideEvent, isTrace, runAlarmPipeline, type ParsedMessage } from '../pipeline/message.js';
import { ConfiguredStages, PipelineConfigError } from '../pipeline/stages.js';
import type { Received } from '../ingest/received.js';
import type { AlarmEvent } from '../parse/alarm-event.js';
import { usageError } from './exit-codes.js';
import { loadConfigOrReport } from './load-config-or-report.js';
import { readableNotification } from './notification-text.js';
import { toJson } from './output.js';

export interface RulesTestOptions {
  from?: string;
  to?: string[];
  at?: string;
  json?: boolean;
  /** Print the notification as sent (MIME), not decoded. */
  raw?: boolean;
}

/** A JSON alarm for `rules test`: what an MQTT event or a hand-written case would carry. */
const jsonAlarmSchema = z.strictObject({
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

/**
 * What the gateway would do with one message, without sending or storing anything: the
 * alarm record, each rule's verdict and why, the route, and the rendered notification.
 */
export async function rulesTestCommand(configFile: string, file: string, options: RulesTestOptions): Promise<number> {
  const config = loadConfigOrReport(configFile);
  if (!config) return 1;
  if (!config.alarms) {
    process.stderr.write(`${config.file}: alarms: not configured, so mail is relayed as it came and no rules apply\n`);
    return 1;
  }
  let stages: ConfiguredStages;
  try {
    stages = new ConfiguredStages(config, { explain: true });
  } catch (error) {
    if (error instanceof PipelineConfigError) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    throw error;
  }
  // Time-of-day rules read the clocks of alarms.timeZone, so a time without an offset is
  // read there too, never in the zone of the machine the command happens to run on.
  const zone = config.alarms.timeZone;
  const now = options.at !== undefined ? parseZonedDateTime(options.at, zone) : Date.now();
  if (now === undefined) {
    return usageError('rules test', `--at ${options.at} is not a time (use ISO 8601, e.g. 2026-11-24T03:14 in ${zone}, or 2026-11-24T03:14:00+01:00)`);
  }
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    process.stderr.write(`annunciator rules test: ${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})\n`);
    return 66;
  }
  let received: Received;
  let parsed: ParsedMessage | undefined;
  if (file.toLowerCase().endsWith('.json')) {
    const input = jsonAlarmSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    if (!input.success) {
      process.stderr.write(`${file}: ${input.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('\n')}\n`);
      return 65;
    }
    const event = eventFromJson(input.data, config, now);
    received = { id: event.id, receivedAt: now, listener: 'rules-test', peer: { address: '127.0.0.1', port: 0, secure: false }, envelope: { mailFrom: event.sender ?? null, rcptTo: event.recipients }, raw: bytes };
    parsed = { event };
  } else {
    received = receivedFromEml(bytes, options, now);
  }
  // A dry run of the pipeline's own code over a throw-away store: no alarm is active, no silence holds.
  const scratch = new SqliteStore(':memory:');
  const trace = await scratch
    .transaction(async (tx) => (parsed ? decideEvent(parsed, received, config, stages, tx, now) : runAlarmPipeline(received, config, stages, tx, now)))
    .finally(() => scratch.close());
  if (!isTrace(trace)) {
    process.stderr.write(`${file}: yields no alarm: ${trace.reason}\n`);
    return 65;
  }
  // A notification held for a group is shown as it goes out when no other alarm joins it.
  const held = trace.result.outbox.length === 0 && trace.result.held?.length ? trace.dues[0] : undefined;
  const first = held ? await stages.renderNotification(held, received.raw) : trace.result.outbox[0];
  const report: Report = { at: now, timeZone: zone, event: trace.event, routing: trace.routing, fingerprint: trace.fingerprint, outcome: trace.result.outcome, reason: trace.result.reason, message: first?.message, recipients: first?.recipients };
  process.stdout.write(options.json ? toJson({ ...report, message: report.message?.toString('utf8') }) : await formatReport(report, options.raw === true));
  return 0;
}

interface Report {
  /** The time the rules were evaluated at, and the zone their times of day are read in. */
  at: number;
  timeZone: string;
  event: AlarmEvent;
  routing: Awaited<ReturnType<ConfiguredStages['route']>>;
  fingerprint: string;
  outcome: string;
  reason: string;
  message?: Buffer;
  recipients?: string[];
}

function receivedFromEml(raw: Buffer, options: RulesTestOptions, now: number): Received {
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
    envelope: { mailFrom: options.from ?? address('From') ?? null, rcptTo: options.to && options.to.length > 0 ? options.to : [address('To') ?? 'alarms@example.com'] },
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

async function formatReport(r: Report, raw: boolean): Promise<string> {
  const e = r.event;
  const out: string[] = [];
  out.push(`AS OF ${formatZoned(r.at, r.timeZone)} (alarms.timeZone ${r.timeZone})`, '');
  out.push('ALARM RECORD');
  out.push(`  device       ${e.device.name} (${e.device.id}, recognised by ${e.device.matchedBy})${e.device.site ? ` at ${e.device.site}` : ''}${e.device.area ? ` / ${e.device.area}` : ''}`);
  out.push(`  title        ${e.title}`);
  out.push(`  state        ${e.state}`);
  for (const [name, value] of Object.entries({ key: e.key, code: e.code, severity: e.severity, value: e.value, unit: e.unit })) {
    if (value !== undefined) out.push(`  ${name.padEnd(12)} ${value}`);
  }
  if (e.patterns.length > 0) out.push(`  patterns     ${e.patterns.join(', ')}`);
  for (const [name, value] of Object.entries(e.fields)) out.push(`  field        ${name} = ${value}`);
  for (const a of e.attachments) out.push(`  attachment   ${a.filename ?? '(unnamed)'} ${a.contentType} ${a.size} bytes`);
  out.push(`  fingerprint  ${r.fingerprint}`);
  out.push('', 'RULES');
  if (r.routing.verdicts.length === 0) out.push('  (no rules loaded)');
  for (const v of r.routing.verdicts) {
    out.push(`  ${v.applied ? 'APPLIED' : v.matched ? 'matched, not applied (an earlier rule has no continue)' : 'no match'}  ${v.rule}  (${v.file})`);
    for (const reason of v.reasons) out.push(`      ${reason}`);
  }
  const route = r.routing.route;
  out.push('', 'ROUTE');
  out.push(`  ${route.isDefault ? 'default route' : `by ${route.rules.join(' + ')}`}; severity ${route.severity}; template ${route.template}; mode ${route.mode}`);
  out.push(`  receivers    ${route.receivers.map((x) => `${x.name}${x.onCall ? ` (on call: ${x.onCall.receivers.join(', ') || 'nobody'}, ${x.onCall.because})` : ''} <${x.emails.join(', ') || 'no address'}>`).join('; ') || '(none)'}`);
  if (route.suppressedBy) out.push(`  suppressed   by rule ${route.suppressedBy}`);
  if (route.group) out.push(`  grouped      by ${route.group.by.join(', ') || '(route only)'}, waiting ${Math.round(route.group.wait / 1000)} s for others`);
  out.push(`  repeat every ${Math.round(route.repeatInterval / 60_000)} min; resolved notification ${route.notifyResolved ? 'yes' : 'no'}; original attached ${route.attachOriginal ? 'yes' : 'no'}`);
  out.push('', 'DECISION (with no earlier state)', `  ${r.outcome}: ${r.reason}`);
  if (r.message) {
    if (raw) out.push('', `NOTIFICATION to ${r.recipients?.join(', ')}, as sent`, '', r.message.toString('utf8').replace(/\r\n/g, '\n'));
    else out.push('', `NOTIFICATION to ${r.recipients?.join(', ')}`, ...(await readableNotification(r.message, r.timeZone)), '', '(the message as sent, MIME and all: --raw)');
  } else {
    out.push('', 'NOTIFICATION: none');
  }
  return `${out.join('\n')}\n`;
}
