import { acknowledgeIn } from '../pipeline/acknowledge.js';
import type { AlarmAck } from '../lifecycle/alarm.js';
import { resolveAlarmId } from './alarm-id.js';
import { EXIT } from './exit-codes.js';
import { withStore } from './load-config-or-report.js';
import { displayZone, printJson, showTime } from './output.js';
import { userName } from './user-name.js';

export interface AckOptions {
  by?: string;
  comment?: string;
  json?: boolean;
}

/**
 * `annunciator ack ALARM-ID`: records the acknowledgement in the store (channel `cli`) and
 * cancels the alarm's pending escalation timers, in one transaction. The running gateway
 * sees it at its next poll: it fires no further level, and (alarms.notifyOnAck) tells the
 * receivers the alarm was sent to. The id may be typed in part (a unique beginning). Exit 0
 * when recorded or already acknowledged, 1 when no alarm or several match.
 */
export function ackCommand(configFile: string, typedId: string, options: AckOptions): Promise<number> {
  return withStore(configFile, async (store, config) => {
    const now = Date.now();
    const alarmId = await resolveAlarmId(store, typedId, 'ack');
    const existing = alarmId === undefined ? undefined : await store.alarms.get(alarmId);
    if (alarmId === undefined || !existing) return EXIT.failure;
    const ack: AlarmAck = { by: options.by ?? userName(), at: now, channel: 'cli', ...(options.comment ? { comment: options.comment } : {}) };
    const result = await store.transaction((tx) => acknowledgeIn(tx, alarmId, ack, now));
    const alarm = result.outcome === 'unknown-alarm' ? existing : result.alarm;
    const already = result.outcome === 'already';
    if (options.json) {
      printJson({ alarm, alreadyAcknowledged: already });
      return 0;
    }
    const recorded = alarm.ack!;
    process.stdout.write(
      already
        ? `alarm ${alarmId} was already acknowledged by ${recorded.by} via ${recorded.channel} at ${showTime(recorded.at, displayZone(config))}; nothing changed\n`
        : `alarm ${alarmId} acknowledged by ${recorded.by} at ${showTime(recorded.at, displayZone(config))}${recorded.comment ? ` (${recorded.comment})` : ''}; pending escalation levels cancelled\n`,
    );
    return 0;
  });
}
