import type { EscalationTimer, EscalationTimerData } from './escalation.js';

/**
 * Everything the gateway does later is a timer row (one table, one runner): a level of an
 * escalation policy, a group or digest going out, the announcement of an acknowledgement,
 * a muted alarm looked at again, the store's pruning. A timer carries what it needs to act, so it fires the
 * same after a restart; it fires once (`firedAt`), late if the gateway was down, and is
 * cancelled rather than deleted, for the record.
 */
export type TimerKind = Timer['kind'];

interface TimerBase {
  /** Unique within its kind: `ALARM:LEVEL` for an escalation, the batch id, the alarm id. */
  key: string;
  /** The alarm it is about, if one. */
  alarmId: string | null;
  dueAt: number;
  firedAt?: number;
  cancelledAt?: number;
}

export type Timer =
  | (TimerBase & { kind: 'escalate'; data: EscalationTimerData & { level: number } })
  | (TimerBase & { kind: 'flush-batch' | 'announce-ack' | 'unmute' | 'prune'; data?: undefined });

/** An escalation level as a timer row. */
export function escalationTimerRow(t: EscalationTimer): Timer {
  return {
    kind: 'escalate',
    key: `${t.alarmId}:${t.level}`,
    alarmId: t.alarmId,
    dueAt: t.dueAt,
    ...(t.firedAt !== undefined ? { firedAt: t.firedAt } : {}),
    ...(t.cancelledAt !== undefined ? { cancelledAt: t.cancelledAt } : {}),
    data: { ...t.data, level: t.level },
  };
}

/** A timer row of kind `escalate` as the escalation level it stands for. */
export function escalationTimerOf(t: Timer & { kind: 'escalate' }): EscalationTimer {
  const { level, ...data } = t.data;
  return {
    alarmId: t.alarmId ?? t.key.slice(0, t.key.lastIndexOf(':')),
    level,
    dueAt: t.dueAt,
    ...(t.firedAt !== undefined ? { firedAt: t.firedAt } : {}),
    ...(t.cancelledAt !== undefined ? { cancelledAt: t.cancelledAt } : {}),
    data,
  };
}

/** A timer that fires now (or at `at`) about one alarm or batch. */
export function timerAt(kind: 'flush-batch' | 'announce-ack' | 'unmute' | 'prune', key: string, alarmId: string | null, dueAt: number): Timer {
  return { kind, key, alarmId, dueAt };
}
