import type { Alarm, AlarmAck, Due } from '../lifecycle/alarm.js';
import { ackAnnouncementSets, addressKey, floodCount } from '../lifecycle/batch.js';
import { timerVerdict } from '../lifecycle/escalation.js';
import type { FloodState } from '../lifecycle/flood.js';
import { resolveReceivers } from '../rules/receivers.js';
import type { ResolvedReceiver } from '../rules/route.js';
import type { AlarmChange, NewOutboxEntry } from '../store/store.js';
import { renderAlarmNotice } from './alarm-notice.js';
import { AlarmTimer, type AlarmTimerOptions } from './alarm-timer.js';

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

  protected override nextDueAt(): number | undefined {
    return this.options.store.nextEscalationDueAt();
  }

  protected override async pass(): Promise<void> {
    const { store, exclusive } = this.options;
    for (const timer of store.dueEscalationTimers(this.now(), BATCH)) {
      if (!this.isRunning) return;
      await exclusive.run(() => this.fire(timer.alarmId, timer.level));
    }
    let held = false;
    for (const together of ackAnnouncementSets(store.unannouncedAcks(ACK_BATCH))) {
      if (!this.isRunning) break;
      if (together.length === 1) await exclusive.run(() => this.announce(together[0]!.id));
      else held = (await exclusive.run(() => this.announceTogether(together.map((a) => a.id)))) || held;
    }
    // The combined announcements are held for a batch due now: the batch timer sends them.
    if (held) this.options.onHeld?.();
  }

  private async fire(alarmId: string, level: number): Promise<void> {
    const { store, config } = this.options;
    const now = this.now();
    const timer = store.escalationTimers(alarmId).find((t) => t.level === level);
    if (!timer || timer.firedAt !== undefined || timer.cancelledAt !== undefined || timer.dueAt > now) return;
    const alarm = store.getAlarm(alarmId);
    // Late only when later than the scheduler's own slack: it normally wakes at the due time.
    const verdict = timerVerdict(timer, alarm, now, Math.max(1000, 2 * this.pollInterval));
    if (!alarm) {
      store.cancelEscalationTimers(alarmId, now);
      return;
    }
    if (!verdict.fire) {
      this.commit({ expected: alarm, alarm, receivedId: alarm.lastEventId, outcome: 'escalation-stopped', reason: verdict.reason, outbox: [], escalation: { cancel: true } }, now);
      return;
    }
    if (alarm.mutedBy) return;
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
      const counted = floodCount(notice, { settings: flood, state: (scope) => store.floodState(scope) }, now);
      if (counted.held) {
        const updated: Alarm = { ...alarm, receivers: told, notifications: alarm.notifications + 1, lastNotifiedAt: now, countAtLastNotification: alarm.count };
        const reason = `${verdict.reason}; to ${receivers.map(describeReceiver).join(', ')}; ${counted.note ?? 'folded into a digest'}`;
        this.commit({ expected: alarm, alarm: updated, receivedId: alarm.lastEventId, outcome: 'escalated', reason, outbox: [], escalation: fired, held: [counted.held], floodStates: [counted.state] }, now);
        return;
      }
      floodStates = [counted.state];
    }
    const rendered = await this.render(alarm, 'escalation', receivers, verdict.reason, now, true);
    if (typeof rendered === 'string') {
      this.commit({ expected: alarm, alarm, receivedId: alarm.lastEventId, outcome: 'escalated', reason: `${verdict.reason}; ${rendered}`, outbox: [], escalation: fired }, now);
      return;
    }
    const updated: Alarm = { ...rendered.alarm, receivers: told, countAtLastNotification: rendered.alarm.count };
    const reason = rendered.outbox.length === 0 ? `${verdict.reason}; no receiver has an address, nothing sent` : `${verdict.reason}; to ${receivers.map(describeReceiver).join(', ')}`;
    this.commit({ expected: alarm, alarm: updated, receivedId: alarm.lastEventId, outcome: 'escalated', reason, outbox: rendered.outbox, escalation: fired, ...(floodStates ? { floodStates } : {}) }, now);
  }

  private async announce(alarmId: string): Promise<void> {
    const { store, config } = this.options;
    const now = this.now();
    const alarm = store.getAlarm(alarmId);
    if (!alarm?.ack || alarm.ackAnnounced) return;
    const ack = alarm.ack;
    const announced: Alarm = { ...alarm, ackAnnounced: true };
    const what = ackDescription(ack);
    const nothing = (why: string): void => {
      this.commit({ expected: alarm, alarm: announced, receivedId: alarm.lastEventId, outcome: 'ack-announced', reason: `${what}; not announced: ${why}`, outbox: [] }, now);
    };
    if (config.alarms?.notifyOnAck === false) return nothing('alarms.notifyOnAck is off');
    if (alarm.notifications === 0 || alarm.receivers.length === 0) return nothing('nobody was told of the alarm');
    const receivers: ResolvedReceiver[] = [{ name: 'receivers notified of the alarm', emails: alarm.receivers }];
    const reason = `${what}; telling the ${alarm.receivers.length} address(es) the alarm was sent to`;
    const rendered = await this.render(announced, 'acknowledged', receivers, reason, now, false);
    if (typeof rendered === 'string') return nothing(rendered);
    this.commit({ expected: alarm, alarm: announced, receivedId: alarm.lastEventId, outcome: 'ack-announced', reason, outbox: rendered.outbox }, now);
  }

  /**
   * Alarms acknowledged by one act (a reply or link for a whole digest) and told to the same
   * addresses: one announcement listing them, through a batch of kind `ack` due now, instead
   * of one mail per alarm. Those that need no announcement are announced (or not) one by one.
   * True when announcements were held for the batch timer.
   */
  private async announceTogether(alarmIds: string[]): Promise<boolean> {
    const { store, config } = this.options;
    const now = this.now();
    const alarms = alarmIds.map((id) => store.getAlarm(id)).filter((a): a is Alarm => a?.ack !== undefined && !a.ackAnnounced);
    const told = config.alarms?.notifyOnAck === false ? [] : alarms.filter((a) => a.notifications > 0 && a.receivers.length > 0);
    for (const alarm of alarms) if (told.length < 2 || !told.includes(alarm)) await this.announce(alarm.id);
    if (told.length < 2) return false;
    const ack = told[0]!.ack!;
    const receivers: ResolvedReceiver[] = [{ name: 'receivers notified of the alarms', emails: told[0]!.receivers }];
    const batch = { batchKey: `ack|${ack.by}|${ack.at}|${ack.channel}|${ack.ref ?? ''}|${addressKey(receivers)}`, batchKind: 'ack' as const, label: `acknowledged by ${ack.by} via ${ack.channel}`, flushAt: now };
    for (const alarm of told) {
      const reason = `${ackDescription(alarm.ack!)}; telling the ${alarm.receivers.length} address(es) the alarm was sent to, in one mail with the ${told.length - 1} other alarm(s) acknowledged with it`;
      const held = { ...batch, receivers, alarmId: alarm.id, kind: 'acknowledged' as const, reason, at: now };
      this.commit({ expected: alarm, alarm: { ...alarm, ackAnnounced: true }, receivedId: alarm.lastEventId, outcome: 'ack-announced', reason, outbox: [], held: [held] }, now);
    }
    return true;
  }

  private render(alarm: Alarm, kind: Due['kind'], receivers: ResolvedReceiver[], reason: string, now: number, count: boolean): Promise<{ alarm: Alarm; outbox: NewOutboxEntry[] } | string> {
    return renderAlarmNotice(this.options, alarm, { kind, receivers, reason, now, count });
  }

  private commit(change: AlarmChange, now: number): void {
    const { store, logger } = this.options;
    const saved = store.commitAlarmChange(change, now);
    const log = logger.child({ alarmId: change.alarm.id });
    if (!saved) {
      log.debug('alarm or timer changed while being looked at; looked at again at the next pass');
      return;
    }
    // An announcement changes nothing others see of the alarm (ackAnnounced is internal):
    // publishing its state again would send MQTT subscribers a state they already have.
    if (change.outcome !== 'ack-announced') this.options.onAlarmChanged?.(change.alarm);
    if (change.outbox.length > 0) this.options.onQueued();
    log.info({ device: change.alarm.device.id, title: change.alarm.title, outcome: change.outcome, reason: change.reason, notifications: change.outbox.map((e) => e.id) }, `alarm ${change.outcome}`);
  }
}

function ackDescription(ack: AlarmAck): string {
  return `acknowledged by ${ack.by} via ${ack.channel} at ${new Date(ack.at).toISOString()}${ack.comment ? ` (${ack.comment})` : ''}`;
}

function describeReceiver(receiver: ResolvedReceiver): string {
  if (receiver.onCall) return `${receiver.name} (on call: ${receiver.onCall.receivers.join(', ') || 'nobody'})`;
  return receiver.name;
}
