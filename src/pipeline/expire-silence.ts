import { silenceIsOver, type Silence } from '../lifecycle/silence.js';
import { timerAt } from '../lifecycle/timer.js';
import type { Repositories } from '../store/store.js';

/**
 * Ends a silence now and arms, for each still active alarm it muted, the timer that looks
 * at the alarm again: the gateway (this process or another) notifies those nothing else
 * mutes. `before` is the silence as it was, undefined when there is none.
 */
export async function expireSilence(tx: Repositories, id: string, now: number): Promise<{ before?: Silence; released: number }> {
  const before = await tx.silences.get(id);
  if (!before || silenceIsOver(before, now)) return { ...(before ? { before } : {}), released: 0 };
  await tx.silences.expire(id, now);
  let released = 0;
  for (const alarm of await tx.alarms.muted()) {
    if (alarm.mutedBy?.by !== 'silence' || alarm.mutedBy.silence !== id) continue;
    await tx.timers.arm(timerAt('unmute', alarm.id, alarm.id, now));
    released += 1;
  }
  return { before, released };
}
