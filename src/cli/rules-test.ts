import { readFileSync } from 'node:fs';
import { formatZoned, parseZonedDateTime } from '../base/zoned-clock.js';
import { dryRun, jsonAlarmSchema, type DryRunInput, type DryRunReport } from '../pipeline/dry-run.js';
import { ConfiguredStages, PipelineConfigError } from '../pipeline/stages.js';
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
  let input: DryRunInput;
  if (file.toLowerCase().endsWith('.json')) {
    const parsed = jsonAlarmSchema.safeParse(JSON.parse(bytes.toString('utf8')));
    if (!parsed.success) {
      process.stderr.write(`${file}: ${parsed.error.issues.map((i) => `${i.path.join('.') || '(top level)'}: ${i.message}`).join('\n')}\n`);
      return 65;
    }
    input = { kind: 'json', alarm: parsed.data, raw: bytes };
  } else {
    input = { kind: 'mail', raw: bytes, ...(options.from !== undefined ? { from: options.from } : {}), ...(options.to !== undefined ? { to: options.to } : {}) };
  }
  // A dry run of the pipeline's own code over a throw-away store: no alarm is active, no silence holds.
  const report = await dryRun(input, config, stages, now);
  if ('noAlarm' in report) {
    process.stderr.write(`${file}: yields no alarm: ${report.noAlarm}\n`);
    return 65;
  }
  process.stdout.write(options.json ? toJson({ ...report, message: report.message?.toString('utf8') }) : await formatReport(report, options.raw === true));
  return 0;
}

type Report = DryRunReport;

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
