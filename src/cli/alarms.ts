import { DELETED_UNSENT } from '../pipeline/delete-outbox-entry.js';
import { SEVERITIES, type Severity } from '../config/schema.js';
import { formatDuration } from '../config/units.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { AlarmFilter } from '../store/store.js';
import { resolveAlarmId } from './alarm-id.js';
import { EXIT, usageError } from './exit-codes.js';
import { withStore } from './load-config-or-report.js';
import { displayZone, localizeTimes, printJson, showTime } from './output.js';
import { printable, printTable } from './table.js';

export interface AlarmsOptions {
  all?: boolean;
  /** active (default), resolved, acknowledged, unacknowledged or all. */
  state?: string;
  /** A device id or name. */
  device?: string;
  site?: string;
  /** One severity or several, comma-separated. */
  severity?: string;
  json?: boolean;
  show?: string;
}

export const ALARM_STATES = ['active', 'resolved', 'acknowledged', 'unacknowledged', 'all'] as const;

/** The states and filter the options ask for, or what is wrong with them. */
export function alarmQuery(options: AlarmsOptions): { states: Alarm['state'][]; filter: AlarmFilter } | string {
  if (options.all && options.state !== undefined && options.state !== 'all') return `--all and --state ${options.state} contradict each other (--all is --state all)`;
  const state = options.all ? 'all' : (options.state ?? 'active');
  if (!(ALARM_STATES as readonly string[]).includes(state)) return `--state ${state}: not one of ${ALARM_STATES.join(', ')}`;
  const filter: AlarmFilter = {};
  if (options.device !== undefined) filter.device = options.device;
  if (options.site !== undefined) filter.site = options.site;
  if (options.severity !== undefined) {
    const wanted = options.severity.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    const unknown = wanted.filter((s) => !(SEVERITIES as readonly string[]).includes(s));
    if (wanted.length === 0 || unknown.length > 0) return `--severity ${options.severity}: use one or more of ${SEVERITIES.join(', ')}, separated by commas`;
    filter.severities = wanted as Severity[];
  }
  if (state === 'acknowledged') filter.acknowledged = true;
  if (state === 'unacknowledged') filter.acknowledged = false;
  const states: Alarm['state'][] = state === 'all' ? ['active', 'resolved'] : state === 'resolved' ? ['resolved'] : ['active'];
  return { states, filter };
}

export function alarmsCommand(configFile: string, options: AlarmsOptions): Promise<number> {
  const query = alarmQuery(options);
  if (typeof query === 'string') return Promise.resolve(usageError('alarms', query));
  return withStore(configFile, async (store, config) => {
    const zone = displayZone(config);
    const at = (ms: number): string => showTime(ms, zone);
    const now = Date.now();
    if (options.show !== undefined) {
      const id = await resolveAlarmId(store, options.show, 'alarms --show');
      const alarm = id === undefined ? undefined : await store.alarms.get(id);
      if (!alarm) return EXIT.failure;
      const history = await store.alarms.history(alarm.id);
      const deletedUnsent = history.filter((h) => h.outcome === DELETED_UNSENT).length;
      if (options.json) {
        printJson({ alarm, history });
        return 0;
      }
      const lines = [
        `${alarm.id}  ${alarm.state.toUpperCase()}  ${alarm.severity}  ${alarm.title}`,
        `device      ${alarm.device.name} (${alarm.device.id})${alarm.device.site ? `, ${alarm.device.site}` : ''}${alarm.device.area ? ` / ${alarm.device.area}` : ''}`,
        `seen        ${alarm.count} time(s), first ${at(alarm.firstSeen)}, last ${at(alarm.lastSeen)}`,
        ...(alarm.resolvedAt ? [`resolved    ${at(alarm.resolvedAt)} after ${formatDuration(alarm.resolvedAt - alarm.firstSeen)}`] : []),
        `notified    ${alarm.notifications} time(s) to ${alarm.receivers.join(', ') || '-'}${deletedUnsent > 0 ? `; ${deletedUnsent} of them deleted from the outbox unsent` : ''}`,
        `acknowledged ${alarm.ack ? `by ${alarm.ack.by} via ${alarm.ack.channel} at ${at(alarm.ack.at)}${alarm.ack.comment ? ` (${alarm.ack.comment})` : ''}` : 'not yet'}`,
        ...(alarm.mutedBy
          ? [
              alarm.mutedBy.by === 'silence'
                ? `muted       by silence ${alarm.mutedBy.silence}${alarm.mutedBy.until !== undefined ? ` until ${at(alarm.mutedBy.until)}` : ''}; notified when it ends, if still active`
                : `muted       inhibited by alarm ${alarm.mutedBy.alarm} via rule ${alarm.mutedBy.rule}; notified when that ends, if still active`,
            ]
          : []),
        // A notification held for a group or digest is otherwise invisible until it goes out.
        ...(await store.batches.ofAlarm(alarm.id)).map((b) =>
          b.sentAt === undefined
            ? `held        in ${b.kind} ${b.label} (${b.id}), goes out ${at(b.flushAt)}`
            : `batched     in ${b.kind} ${b.label} (${b.id}), sent ${at(b.sentAt)}`,
        ),
        'history',
        ...history.map((h) => `  ${at(h.at)}  ${h.outcome.padEnd(20)} ${localizeTimes(h.reason, zone)}  (message ${h.receivedId})`),
      ];
      // Titles, texts and history reasons come from devices: one line each, control characters as text.
      process.stdout.write(`${lines.map(printable).join('\n')}\n`);
      return 0;
    }
    const alarms = await store.alarms.list(query.states, 1000, query.filter);
    if (options.json) {
      printJson(alarms);
      return 0;
    }
    if (alarms.length === 0) {
      const filtered = Object.keys(query.filter).length > 0 || options.state !== undefined || options.all;
      process.stdout.write(filtered ? 'no alarms match\n' : 'no active alarms\n');
      return 0;
    }
    printTable(
      ['ID', 'STATE', 'SEVERITY', 'COUNT', 'FIRST SEEN', 'LAST SEEN', 'ACK BY', 'DEVICE', 'TITLE'],
      alarms.map((a) => [a.id, a.state, a.severity, String(a.count), `${formatDuration(now - a.firstSeen)} ago`, `${formatDuration(now - a.lastSeen)} ago`, a.ack?.by ?? '-', a.device.name, a.title]),
    );
    return 0;
  });
}
