import type { AlarmMute } from '../lifecycle/alarm.js';
import { timerAt } from '../lifecycle/timer.js';
import type { Repositories } from '../store/store.js';

/**
 * Arms, for every active alarm muted by what `which` picks, the timer that looks at it again
 * now (pipeline/unmute.ts: notified unless something still mutes it). Returns how many.
 */
export async function armUnmuteNow(tx: Repositories, now: number, which: (mutedBy: AlarmMute) => boolean): Promise<number> {
  let armed = 0;
  for (const alarm of await tx.alarms.muted()) {
    if (!alarm.mutedBy || !which(alarm.mutedBy)) continue;
    await tx.timers.arm(timerAt('unmute', alarm.id, alarm.id, now));
    armed += 1;
  }
  return armed;
}
