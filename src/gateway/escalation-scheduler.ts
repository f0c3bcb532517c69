import type { Alarm, AlarmAck, Due } from '../lifecycle/alarm.js';
import { ackAnnouncementSets, addressKey, floodCount } from '../lifecycle/batch.js';
import { timerVerdict } from '../lifecycle/escalation.js';
import type { FloodState } from '../lifecycle/flood.js';
import { resolveReceivers } from '../rules/receivers.js';
import type { ResolvedReceiver } from '../rules/route.js';
import type { NewOutboxEntry, Repositories } from '../store/store.js';
import { floodScope } from '../lifecycle/flood.js';
import { renderAlarmNotice } from './alarm-notice.js';
import { AlarmTimer, type AlarmChange, type AlarmTimerOptions } from './alarm-timer.js';

const BATCH = 100;
/** Enough that one reply acknowledging a large digest is announced in one pass, so in one mail. */
const ACK_BATCH = 1000;

/**
 * The timer behind escalation policies and "acknowledging notifies the others". It wakes
 * at the earliest pending escalation timer (and at least every poll interval, and when
 * told of an ack), and:
 *
 * - for each due timer whose alarm still needs it (lifecycle/escalation.ts) queues one
 *   notification of kind `escalation` to that level's receivers, resolved (schedules) at
 *   the fire time, and marks the timer fired in the same transaction as the outbox entry;
 *   a timer whose alarm no longer needs it cancels the alarm's pending timers. A timer
 *   overdue after a restart fires once, late, and says so;
 * - for each acknowledged alarm not yet announced (whatever recorded the ack: MQTT, the
 *   CLI from another process, ...) queues one notification of kind `acknowledged` to the
 *   addresses the alarm was sent to, when `alarms.notifyOnAck` is on, and marks it announced.
 *
 * Like the unmute scheduler it renders from the alarm's latest message, re-routed by the
 * rules in force now (for template, mode and severity); only the receivers are the level's.
 * An alarm muted by a silence or inhibition holds its due levels until it is free again.
 */
export class EscalationScheduler extends AlarmTimer {
  constructor(options: AlarmTimerOptions) {
    super(options, 'escalations and acknowledgements');
  }

  protected override nextDueAt(): Promise<number | undefined> {
    return this.options.store.timers.nextDueAt();
  }

  protected override async pass(): Promise<void> {
    const { store } = this.options;
    for (const timer of await store.timers.due(this.now(), BATCH)) {
      if (!this.isRunning) return;
      await this.changeAlarm((tx, now) => this.fire(tx, timer.alarmId, timer.level, now));
    }
    let held = false;
    for (const together of ackAnnouncementSets(await store.alarms.unannouncedAcks(ACK_BATCH))) {
      if (!this.isRunning) break;
      if (together.length === 1) await this.changeAlarm((tx, now) => this.announce(tx, together[0]!.id, now));
      else held = (await this.announceTogether(together.map((a) => a.id))) || held;
    }
    // The combined announcements are held for a batch due now: the batch timer sends them.
    if (held) this.options.onHeld?.();
  }

  private async fire(tx: Repositories, alarmId: string, level: number, now: number): Promise<AlarmChange | undefined> {
    const { config } = this.options;
    const timer = (await tx.timers.ofAlarm(alarmId)).find((t) => t.level === level);
    if (!timer || timer.firedAt !== undefined || timer.cancelledAt !== undefined || timer.dueAt > now) return undefined;
    const alarm = await tx.alarms.get(alarmId);
    // Late only when later than the scheduler's own slack: it normally wakes at the due time.
    const verdict = timerVerdict(timer, alarm, now, Math.max(1000, 2 * this.pollInterval));
    if (!alarm) {
      await tx.timers.cancel(alarmId, now, 'all');
      return undefined;
    }
    if (!verdict.fire) {
      return { alarm, receivedId: alarm.lastEventId, outcome: 'escalation-stopped', reason: verdict.reason, outbox: [], escalation: { cancel: true } };
    }
    if (alarm.mutedBy) return undefined;
    const fired = { fired: { alarmId, level }, ...(verdict.next ? { next: verdict.next } : {}) };
    let floodStates: FloodState[] | undefined;
    const receivers = resolveReceivers(timer.data.receivers, config.receivers, { schedules: config.schedules, now });
    const emails = receivers.flatMap((r) => r.emails);
    const told = [...alarm.receivers, ...emails.filter((e) => !alarm.receivers.some((r) => r.toLowerCase() === e.toLowerCase()))];
    // A storm of alarms under one policy would fire its levels by the hundred: a flooding
    // device's levels go into a digest to the level's receivers, like its other notifications.
    const flood = config.alarms?.floodControl;
    if (flood?.enabled && emails.length > 0) {
      const notice = { alarm, receivers, kind: 'escalation' as const, reason: verdict.reason, at: now };
      const previous = await tx.batches.floodState(floodScope(alarm, flood.per));
      const counted = floodCount(notice, { settings: flood, state: () => previous }, now);
      if (counted.held) {
        const updated: Alarm = { ...alarm, receivers: told, notifications: alarm.notifications + 1, lastNotifiedAt: now, countAtLastNotification: alarm.count };
        const reason = `${verdict.reason}; to ${receivers.map(describeReceiver).join(', ')}; ${counted.note ?? 'folded into a digest'}`;
        return { alarm: updated, receivedId: alarm.lastEventId, outcome: 'escalated', reason, outbox: [], escalation: fired, held: [counted.held], floodStates: [counted.state] };
      }
      floodStates = [counted.state];
    }
    const rendered = await this.render(tx, alarm, 'escalation', receivers, verdict.reason, now, true);
    if (typeof rendered === 'string') {
      return { alarm, receivedId: alarm.lastEventId, outcome: 'escalated', reason: `${verdict.reason}; ${rendered}`, outbox: [], escalation: fired };
    }
    const updated: Alarm = { ...rendered.alarm, receivers: told, countAtLastNotification: rendered.alarm.count };
    const reason = rendered.outbox.length === 0 ? `${verdict.reason}; no receiver has an address, nothing sent` : `${verdict.reason}; to ${receivers.map(describeReceiver).join(', ')}`;
    return { alarm: updated, receivedId: alarm.lastEventId, outcome: 'escalated', reason, outbox: rendered.outbox, escalation: fired, ...(floodStates ? { floodStates } : {}) };
  }

  private async announce(tx: Repositories, alarmId: string, now: number): Promise<AlarmChange | undefined> {
    const { config } = this.options;
    const alarm = await tx.alarms.get(alarmId);
    if (!alarm?.ack || alarm.ackAnnounced) return undefined;
    const ack = alarm.ack;
    const announced: Alarm = { ...alarm, ackAnnounced: true };
    const what = ackDescription(ack);
    const nothing = (why: string): AlarmChange => ({ alarm: announced, receivedId: alarm.lastEventId, outcome: 'ack-announced', reason: `${what}; not announced: ${why}`, outbox: [] });
    if (config.alarms?.notifyOnAck === false) return nothing('alarms.notifyOnAck is off');
    if (alarm.notifications === 0 || alarm.receivers.length === 0) return nothing('nobody was told of the alarm');
    const receivers: ResolvedReceiver[] = [{ name: 'receivers notified of the alarm', emails: alarm.receivers }];
    const reason = `${what}; telling the ${alarm.receivers.length} address(es) the alarm was sent to`;
    const rendered = await this.render(tx, announced, 'acknowledged', receivers, reason, now, false);
    if (typeof rendered === 'string') return nothing(rendered);
    return { alarm: announced, receivedId: alarm.lastEventId, outcome: 'ack-announced', reason, outbox: rendered.outbox };
  }

  /**
   * Alarms acknowledged by one act (a reply or link for a whole digest) and told to the same
   * addresses: one announcement listing them, through a batch of kind `ack` due now, instead
   * of one mail per alarm. Those that need no announcement are announced (or not) one by one.
   * True when announcements were held for the batch timer.
   */
  private async announceTogether(alarmIds: string[]): Promise<boolean> {
    const { store, config } = this.options;
    const alarms = (await Promise.all(alarmIds.map((id) => store.alarms.get(id)))).filter((a): a is Alarm => a?.ack !== undefined && !a.ackAnnounced);
    const told = config.alarms?.notifyOnAck === false ? [] : alarms.filter((a) => a.notifications > 0 && a.receivers.length > 0);
    for (const alarm of alarms) if (told.length < 2 || !told.includes(alarm)) await this.changeAlarm((tx, now) => this.announce(tx, alarm.id, now));
    if (told.length < 2) return false;
    const ack = told[0]!.ack!;
    const receivers: ResolvedReceiver[] = [{ name: 'receivers notified of the alarms', emails: told[0]!.receivers }];
    const batchKey = `ack|${ack.by}|${ack.at}|${ack.channel}|${ack.ref ?? ''}|${addressKey(receivers)}`;
    for (const { id } of told) {
      await this.changeAlarm(async (tx, now) => {
        const alarm = await tx.alarms.get(id);
        if (!alarm?.ack || alarm.ackAnnounced) return undefined;
        const reason = `${ackDescription(alarm.ack)}; telling the ${alarm.receivers.length} address(es) the alarm was sent to, in one mail with the ${told.length - 1} other alarm(s) acknowledged with it`;
        const held = { batchKey, batchKind: 'ack' as const, label: `acknowledged by ${ack.by} via ${ack.channel}`, flushAt: now, receivers, alarmId: alarm.id, kind: 'acknowledged' as const, reason, at: now };
        return { alarm: { ...alarm, ackAnnounced: true }, receivedId: alarm.lastEventId, outcome: 'ack-announced', reason, outbox: [], held: [held] };
      });
    }
    return true;
  }

  private render(tx: Repositories, alarm: Alarm, kind: Due['kind'], receivers: ResolvedReceiver[], reason: string, now: number, count: boolean): Promise<{ alarm: Alarm; outbox: NewOutboxEntry[] } | string> {
    return renderAlarmNotice({ ...this.options, inbox: tx.inbox }, alarm, { kind, receivers, reason, now, count });
  }
}

function ackDescription(ack: AlarmAck): string {
  return `acknowledged by ${ack.by} via ${ack.channel} at ${new Date(ack.at).toISOString()}${ack.comment ? ` (${ack.comment})` : ''}`;
}

function describeReceiver(receiver: ResolvedReceiver): string {
  if (receiver.onCall) return `${receiver.name} (on call: ${receiver.onCall.receivers.join(', ') || 'nobody'})`;
  return receiver.name;
}
