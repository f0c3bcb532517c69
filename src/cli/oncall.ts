import { formatZoned, parseZonedDateTime } from '../base/zoned-clock.js';
import { onCallReport } from '../rules/oncall-report.js';
import { usageError } from './exit-codes.js';
import { loadConfigOrReport } from './load-config-or-report.js';

export interface OnCallOptions {
  /** ISO 8601; without an offset, a wall-clock time in alarms.timeZone (else the system's zone). */
  at?: string;
  schedule?: string;
  json?: boolean;
}

/** Who is on call on each schedule (or one) at a time, why, and when and to whom that next changes. Reads only the configuration. */
export function oncallCommand(configFile: string, options: OnCallOptions): number {
  const config = loadConfigOrReport(configFile);
  if (!config) return 1;
  const zone = config.alarms?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
  const at = options.at === undefined ? Date.now() : parseZonedDateTime(options.at, zone);
  if (at === undefined) {
    return usageError('oncall', `--at ${options.at} is not a time (use ISO 8601, e.g. 2026-11-24T03:14 in ${zone}, or 2026-11-24T03:14:00+01:00)`);
  }
  const schedules = options.schedule === undefined ? config.schedules : config.schedules.filter((s) => s.name === options.schedule);
  if (options.schedule !== undefined && schedules.length === 0) {
    const known = config.schedules.map((s) => s.name);
    process.stderr.write(`annunciator oncall: no schedule named "${options.schedule}" (${known.length > 0 ? `known: ${known.join(', ')}` : 'the configuration defines none'})\n`);
    return 1;
  }

  const reports = schedules.map((schedule) => {
    const report = onCallReport(schedule, config.receivers, at);
    return { ...report, nextHandoff: report.nextHandoff ? { ...report.nextHandoff, at: new Date(report.nextHandoff.at).toISOString() } : null };
  });

  if (options.json) {
    process.stdout.write(`${JSON.stringify({ at: new Date(at).toISOString(), schedules: reports }, null, 2)}\n`);
    return 0;
  }
  if (reports.length === 0) {
    process.stdout.write(`no on-call schedules in ${config.file}\n`);
    return 0;
  }
  const blocks = reports.map((r) =>
    [
      `${r.name}  (${r.timeZone}, at ${formatZoned(at, r.timeZone)})`,
      `  on call       ${r.receivers.map((x) => `${x.name} <${x.emails.join(', ') || 'no address'}>`).join('; ') || 'nobody'}`,
      `  because       ${r.because}`,
      `  next handoff  ${r.nextHandoff ? `${r.nextHandoff.local} to ${r.nextHandoff.receivers.join(', ') || 'nobody'} (${r.nextHandoff.source === 'none' ? 'nothing covers that time' : r.nextHandoff.because})` : '(no change within a year)'}`,
    ].join('\n'),
  );
  process.stdout.write(`${blocks.join('\n\n')}\n`);
  return 0;
}
