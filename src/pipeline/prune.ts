import type { GatewayConfig } from '../config/types.js';
import { timerAt } from '../lifecycle/timer.js';
import type { Repositories } from '../store/store.js';
import type { Effects } from './effects.js';

/** Rows deleted per kind in one prune: small enough that the transaction stays short. */
const LIMIT = 2000;

export interface PruneCounts {
  messages: number;
  notifications: number;
  alarms: number;
  batches: number;
  timers: number;
}

/**
 * The store's retention (config `store.retention`): deletes what is done and older than its
 * age, a bounded batch per kind, and arms the next prune: soon while more is left, else
 * after `every`. Notifications go first, so the messages they referred to can follow.
 */
export async function prune(tx: Repositories, config: GatewayConfig, now: number, fx: Effects): Promise<PruneCounts> {
  const r = config.store.retention;
  const counts: PruneCounts = {
    notifications: await tx.outbox.prune(now - r.notifications, LIMIT),
    messages: await tx.inbox.prune(now - r.messages, LIMIT),
    batches: await tx.batches.prune(now - r.resolvedAlarms, LIMIT),
    alarms: await tx.alarms.prune(now - r.resolvedAlarms, LIMIT),
    timers: await tx.timers.prune(now - r.resolvedAlarms, LIMIT),
  };
  const more = Object.values(counts).some((n) => n >= LIMIT);
  const next = now + (more ? 1000 : r.every);
  await tx.timers.arm(timerAt('prune', 'store', null, next));
  fx.emit('timer-armed', { kind: 'prune', dueAt: next });
  if (Object.values(counts).some((n) => n > 0)) fx.emit('pruned', counts);
  return counts;
}
