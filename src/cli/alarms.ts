import { DELETED_UNSENT } from '../pipeline/delete-outbox-entry.js';
import { formatDuration } from '../config/units.js';
import { withStore } from './load-config-or-report.js';
import { displayZone, localizeTimes, printJson, showTime } from './output.js';
import { printTable } from './table.js';

export function alarmsCommand(configFile: string, options: { all?: boolean; json?: boolean; show?: string }): Promise<number> {
  return withStore(configFile, async (store, config) => {
    const zone = displayZone(config);
    const at = (ms: number): string => showTime(ms, zone);
    const now = Date.now();
    if (options.show) {
      const alarm = await store.alarms.get(options.show);
      if (!alarm) {
        process.stderr.write(`annunciator alarms: no alarm ${options.show}\n`);
        return 1;
      }
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
      process.stdout.write(`${lines.join('\n')}\n`);
      return 0;
    }
    const alarms = await store.alarms.list(options.all ? ['active', 'resolved'] : ['active']);
    if (options.json) {
      printJson(alarms);
      return 0;
    }
    if (alarms.length === 0) {
      process.stdout.write(options.all ? 'no alarms\n' : 'no active alarms\n');
      return 0;
    }
    printTable(
      ['ID', 'STATE', 'SEVERITY', 'COUNT', 'FIRST SEEN', 'LAST SEEN', 'DEVICE', 'TITLE'],
      alarms.map((a) => [a.id, a.state, a.severity, String(a.count), `${formatDuration(now - a.firstSeen)} ago`, `${formatDuration(now - a.lastSeen)} ago`, a.device.name, a.title]),
    );
    return 0;
  });
}
