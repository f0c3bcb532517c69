import { formatZoned } from '../base/zoned-clock.js';
import type { Alarm, AlarmAck } from '../lifecycle/alarm.js';
import { ackAnnouncementSets, addressKey } from '../lifecycle/batch.js';
import type { ResolvedReceiver } from '../rules/route.js';
import type { Repositories } from '../store/store.js';
import type { AlarmChange } from './alarm-change.js';
import type { PipelineContext } from './context.js';
import { renderNotice } from './notice.js';

/**
 * Acknowledged alarms are announced to the addresses each was sent to (`alarms.notifyOnAck`),
 * whatever door the ack came through. Alarms acknowledged by one act (a reply or link for a
 * whole digest) and told to the same addresses get one announcement listing them, through a
 * batch of kind `ack` due now, instead of one mail per alarm. `alarmIds`: the alarms whose
 * announce timers fired together.
 */
export async function announceAcks(ctx: PipelineContext, tx: Repositories, alarmIds: string[], now: number): Promise<{ before: Alarm; change: AlarmChange }[]> {
  const alarms: Alarm[] = [];
  for (const id of alarmIds) {
    const alarm = await tx.alarms.get(id);
    if (alarm?.ack && !alarm.ackAnnounced) alarms.push(alarm);
  }
  const changes: { before: Alarm; change: AlarmChange }[] = [];
  for (const together of ackAnnouncementSets(alarms)) {
    const told = ctx.config.alarms?.notifyOnAck === false ? [] : together.filter((a) => a.notifications > 0 && a.receivers.length > 0);
    for (const alarm of together) if (told.length < 2 || !told.includes(alarm)) changes.push({ before: alarm, change: await announce(ctx, tx, alarm, now) });
    if (told.length < 2) continue;
    const ack = told[0]!.ack!;
    const receivers: ResolvedReceiver[] = [{ name: 'receivers notified of the alarms', emails: told[0]!.receivers }];
    const batchKey = `ack|${ack.by}|${ack.at}|${ack.channel}|${ack.ref ?? ''}|${addressKey(receivers)}`;
    for (const alarm of told) {
      const reason = `${ackDescription(alarm.ack!, zoneOf(ctx))}; telling the ${alarm.receivers.length} address(es) the alarm was sent to, in one mail with the ${told.length - 1} other alarm(s) acknowledged with it`;
      const held = { batchKey, batchKind: 'ack' as const, label: `acknowledged by ${ack.by} via ${ack.channel}`, flushAt: now, receivers, alarmId: alarm.id, kind: 'acknowledged' as const, reason, at: now };
      changes.push({ before: alarm, change: { alarm: { ...alarm, ackAnnounced: true }, receivedId: alarm.lastEventId, outcome: 'ack-announced', reason, outbox: [], held: [held] } });
    }
  }
  return changes;
}

async function announce(ctx: PipelineContext, tx: Repositories, alarm: Alarm, now: number): Promise<AlarmChange> {
  const ack = alarm.ack!;
  const announced: Alarm = { ...alarm, ackAnnounced: true };
  const what = ackDescription(ack, zoneOf(ctx));
  const nothing = (why: string): AlarmChange => ({ alarm: announced, receivedId: alarm.lastEventId, outcome: 'ack-announced', reason: `${what}; not announced: ${why}`, outbox: [] });
  if (ctx.config.alarms?.notifyOnAck === false) return nothing('alarms.notifyOnAck is off');
  if (alarm.notifications === 0 || alarm.receivers.length === 0) return nothing('nobody was told of the alarm');
  const receivers: ResolvedReceiver[] = [{ name: 'receivers notified of the alarm', emails: alarm.receivers }];
  const reason = `${what}; telling the ${alarm.receivers.length} address(es) the alarm was sent to`;
  const rendered = await renderNotice(ctx, tx, announced, 'acknowledged', receivers, reason, now, false);
  if (typeof rendered === 'string') return nothing(rendered);
  return { alarm: announced, receivedId: alarm.lastEventId, outcome: 'ack-announced', reason, outbox: rendered.outbox };
}

function zoneOf(ctx: PipelineContext): string {
  return ctx.config.alarms?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
}

/** The reason is the notification's "Why" line as well as the history's: the time as the plant's clocks show it. */
function ackDescription(ack: AlarmAck, timeZone: string): string {
  return `acknowledged by ${ack.by} via ${ack.channel} at ${formatZoned(ack.at, timeZone, { seconds: true })}${ack.comment ? ` (${ack.comment})` : ''}`;
}
