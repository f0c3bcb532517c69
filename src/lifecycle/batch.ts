import { SEVERITIES } from '../config/schema.js';
import type { ResolvedReceiver } from '../rules/route.js';
import { alarmField } from './alarm-matchers.js';
import type { Alarm, Due, DueKind } from './alarm.js';
import { describeScope, floodScope, floodStep, type FloodSettings, type FloodState } from './flood.js';

/**
 * Grouping and flood control: the stage after muting. A notification due now either goes
 * out now, or is held in a batch that goes out later as one notification listing its
 * alarms:
 *
 * - a group (the route's `group: {by, wait}`): alarms of one route with the same values of
 *   the `by` fields, arriving within `wait` of the first, go out together;
 * - a digest (flood control): once a device or site makes more notifications due than
 *   its limit, the rest go out every digest interval, counted, until its rate falls.
 *
 * Pure: the caller stores the held notifications and the flood state with the alarm.
 */

/** `ack`: alarms acknowledged by one act (one reply, one link) are announced to the people told in one mail. */
export type BatchKind = 'group' | 'digest' | 'ack';

/** A notification held back for a batch. */
export interface HeldNotification {
  /** Batches with the same key collect together until the batch goes out. */
  batchKey: string;
  batchKind: BatchKind;
  /** "site=Plant North" for a group, "device plc-4" for a digest: what the batch is about. */
  label: string;
  /** When the batch goes out, if this notification opens it. */
  flushAt: number;
  receivers: ResolvedReceiver[];
  alarmId: string;
  kind: DueKind;
  reason: string;
  at: number;
}

/** A batch as stored: held notifications with the same key, until it goes out. */
export interface Batch {
  id: string;
  key: string;
  kind: BatchKind;
  label: string;
  openedAt: number;
  flushAt: number;
  receivers: ResolvedReceiver[];
  sentAt?: number;
}

export interface BatchItem {
  alarmId: string;
  kind: DueKind;
  reason: string;
  at: number;
}

export interface BatchingContext {
  now: number;
  /** Set when flood control is on: its settings and the scope's state before this notification. */
  flood?: { settings: FloodSettings; state: (scope: string) => FloodState | undefined };
}

export interface Batching {
  send: Due[];
  held: HeldNotification[];
  /** The flood states to store (one per scope counted). */
  floodStates: FloodState[];
  /** Why notifications were held, to add to the decision's reason. */
  notes: string[];
}

/**
 * Kinds an event makes due. Escalation levels are timer-driven: the escalation scheduler
 * puts them through flood control itself (floodCount); ack announcements are never held.
 */
const BATCHABLE: ReadonlySet<DueKind> = new Set(['firing', 'reminder', 'resolved']);

export function batchDues(dues: readonly Due[], ctx: BatchingContext): Batching {
  const result: Batching = { send: [], held: [], floodStates: [], notes: [] };
  for (const due of dues) {
    const emails = addressKey(due.route.receivers);
    // Nobody to tell: nothing to hold; rendering records that nobody was told.
    if (!BATCHABLE.has(due.kind) || emails === '') {
      result.send.push(due);
      continue;
    }
    if (ctx.flood) {
      const counted = floodCount(pending(due), { ...ctx.flood, state: (scope) => result.floodStates.find((s) => s.scope === scope) ?? ctx.flood!.state(scope) }, ctx.now);
      result.floodStates = [...result.floodStates.filter((s) => s.scope !== counted.state.scope), counted.state];
      if (counted.note) result.notes.push(counted.note);
      if (counted.held) {
        result.held.push(counted.held);
        continue;
      }
    }
    const group = due.route.group;
    if (group) {
      const values = group.by.map((field) => `${field}=${alarmField(due.alarm, field)}`);
      const label = values.join(', ') || 'all alarms of the route';
      const routeName = due.route.isDefault ? 'default route' : due.route.rules.join('+');
      const flushAt = ctx.now + group.wait;
      result.held.push(held(pending(due), { batchKey: `group|${routeName}|${values.join('|')}|${emails}`, batchKind: 'group', label, flushAt }));
      result.notes.push(`held for the group ${label} (${routeName}), sent within ${Math.round(group.wait / 1000)} s of its first alarm`);
      continue;
    }
    result.send.push(due);
  }
  return result;
}

/**
 * Flood control for one notification: counted under its device's (or site's) scope, and
 * held for the scope's digest when the scope is flooding. Also used for escalation levels,
 * which a storm of alarms would otherwise fire by the hundred.
 */
export function floodCount(due: PendingNotice, flood: NonNullable<BatchingContext['flood']>, now: number): { state: FloodState; held?: HeldNotification; note?: string } {
  const scope = floodScope(due.alarm, flood.settings.per);
  const step = floodStep(flood.state(scope), scope, now, flood.settings);
  const base = { state: step.state, ...(step.reason ? { note: step.reason } : {}) };
  if (!step.hold) return base;
  const batch = { batchKey: digestKey(scope, addressKey(due.receivers)), batchKind: 'digest' as const, label: describeScope(scope), flushAt: now + flood.settings.digestInterval };
  return { ...base, held: held(due, batch) };
}

const DIGEST_PREFIX = 'digest|';

/** A digest's batch key: one open digest per scope and audience. */
function digestKey(scope: string, addresses: string): string {
  return `${DIGEST_PREFIX}${scope}|${addresses}`;
}

/** The flood-control scope a digest batch was opened for ("device:plc-4"); undefined for a group. */
export function digestScopeOf(batch: Pick<Batch, 'kind' | 'key'>): string | undefined {
  if (batch.kind !== 'digest' || !batch.key.startsWith(DIGEST_PREFIX)) return undefined;
  // The addresses come last; a device id may hold a bar, an address in practice does not.
  return batch.key.slice(DIGEST_PREFIX.length, batch.key.lastIndexOf('|'));
}

/** What holding a notification needs to know of it. */
export interface PendingNotice {
  alarm: Pick<Alarm, 'id' | 'device'>;
  receivers: ResolvedReceiver[];
  kind: DueKind;
  reason: string;
  at: number;
}

function pending(due: Due): PendingNotice {
  return { alarm: due.alarm, receivers: due.route.receivers, kind: due.kind, reason: due.reason, at: due.at };
}

function held(notice: PendingNotice, batch: Pick<HeldNotification, 'batchKey' | 'batchKind' | 'label' | 'flushAt'>): HeldNotification {
  return { ...batch, receivers: notice.receivers, alarmId: notice.alarm.id, kind: notice.kind, reason: notice.reason, at: notice.at };
}

/** The receivers' addresses, lower case, sorted, each once: batches never mix audiences. */
export function addressKey(receivers: readonly ResolvedReceiver[]): string {
  return [...new Set(receivers.flatMap((r) => r.emails).map((e) => e.trim().toLowerCase()).filter((e) => e !== ''))].sort().join(',');
}

/**
 * Acknowledged alarms not yet announced, in sets to announce in one mail each: those
 * acknowledged by one act (same person, moment, channel and carrier: one reply or one
 * link acknowledging a whole digest) and told to the same addresses. A reply to a digest
 * of 400 alarms gives one announcement, not 400.
 */
export function ackAnnouncementSets(alarms: readonly Alarm[]): Alarm[][] {
  const sets = new Map<string, Alarm[]>();
  for (const alarm of alarms) {
    const ack = alarm.ack;
    const key = ack ? [ack.by, ack.at, ack.channel, ack.ref ?? '', addressKey([{ name: '', emails: alarm.receivers }])].join('|') : `alone|${alarm.id}`;
    sets.set(key, [...(sets.get(key) ?? []), alarm]);
  }
  return [...sets.values()];
}

/** A batch's alarms as its notification lists them. */
export interface BatchEntry {
  alarm: Alarm;
  /** The held notifications of this alarm in the batch, in order ("firing", then "resolved"). */
  kinds: DueKind[];
}

export interface BatchSummary {
  entries: BatchEntry[];
  /** Held notifications in all (a digest says how many it folded). */
  notifications: number;
  active: number;
  resolved: number;
  acknowledged: number;
}


/**
 * What a batch's notification lists: each alarm once (as it is now), the most severe and
 * then the earliest first. Alarms no longer in the store are left out.
 */
export function summarizeBatch(items: readonly BatchItem[], alarmOf: (id: string) => Alarm | undefined): BatchSummary {
  const byAlarm = new Map<string, BatchEntry>();
  for (const item of items) {
    const existing = byAlarm.get(item.alarmId);
    if (existing) {
      existing.kinds.push(item.kind);
      continue;
    }
    const alarm = alarmOf(item.alarmId);
    if (alarm) byAlarm.set(item.alarmId, { alarm, kinds: [item.kind] });
  }
  const entries = [...byAlarm.values()].sort((a, b) => rank(a.alarm) - rank(b.alarm) || a.alarm.firstSeen - b.alarm.firstSeen || a.alarm.id.localeCompare(b.alarm.id));
  return {
    entries,
    notifications: items.length,
    active: entries.filter((e) => e.alarm.state === 'active').length,
    resolved: entries.filter((e) => e.alarm.state === 'resolved').length,
    acknowledged: entries.filter((e) => e.alarm.ack !== undefined).length,
  };
}

function rank(alarm: Alarm): number {
  const index = SEVERITIES.indexOf(alarm.severity);
  return index < 0 ? SEVERITIES.length : index;
}
