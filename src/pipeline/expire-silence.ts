import { silenceIsOver, type Silence } from '../lifecycle/silence.js';
import type { Repositories } from '../store/store.js';
import { armUnmuteNow } from './arm-unmute.js';

/**
 * Ends a silence now and arms, for each still active alarm it muted, the timer that looks
 * at the alarm again: the gateway (this process or another) notifies those nothing else
 * mutes. `before` is the silence as it was, undefined when there is none.
 */
export async function expireSilence(tx: Repositories, id: string, now: number): Promise<{ before?: Silence; released: number }> {
  const before = await tx.silences.get(id);
  if (!before || silenceIsOver(before, now)) return { ...(before ? { before } : {}), released: 0 };
  await tx.silences.expire(id, now);
  const released = await armUnmuteNow(tx, now, (mutedBy) => mutedBy.by === 'silence' && mutedBy.silence === id);
  return { before, released };
}
