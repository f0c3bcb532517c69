import type { ReceiverConfig } from '../config/schema.js';
import type { ScheduleConfig } from '../config/types.js';
import { whoIsOnCall } from './oncall.js';
import type { ResolvedReceiver } from './route.js';

/** The on-call schedules and the time to ask them at (the routing pass's `now`). */
export interface OnCallContext {
  schedules: readonly ScheduleConfig[];
  now: number;
}

/**
 * Receiver names to addresses. A group lists `members` (other receivers, themselves
 * possibly groups); it expands to its own addresses and all of its members'. A group
 * that reaches itself again is expanded once, not forever. A name that is a schedule
 * (when `onCall` is given) resolves to whoever is on call at `onCall.now`, expanded the
 * same way, and says who and why in `onCall`.
 */
export function resolveReceivers(names: readonly string[], receivers: readonly ReceiverConfig[], onCall?: OnCallContext): ResolvedReceiver[] {
  const byName = new Map(receivers.map((r) => [r.name, r]));
  return names.map((name): ResolvedReceiver => {
    const schedule = byName.has(name) ? undefined : onCall?.schedules.find((s) => s.name === name);
    if (!schedule || !onCall) return { name, emails: dedupe(expand(name, byName, new Set())) };
    const who = whoIsOnCall(schedule, onCall.now);
    return { name, emails: dedupe(who.receivers.flatMap((person) => expand(person, byName, new Set()))), onCall: { receivers: who.receivers, because: who.because } };
  });
}

function expand(name: string, byName: ReadonlyMap<string, ReceiverConfig>, onPath: Set<string>): string[] {
  const receiver = byName.get(name);
  // Unknown names (config changed under loaded rules) resolve to no address; the router
  // then falls back to the default receivers rather than sending to nobody.
  if (!receiver || onPath.has(name)) return [];
  onPath.add(name);
  const own = receiver.email === undefined ? [] : Array.isArray(receiver.email) ? receiver.email : [receiver.email];
  const fromMembers = (receiver.members ?? []).flatMap((member) => expand(member, byName, onPath));
  onPath.delete(name);
  return [...own, ...fromMembers];
}

/** The envelope recipients a device chose, each as a receiver named by its address. */
export function envelopeReceivers(recipients: readonly string[]): ResolvedReceiver[] {
  const seen = new Set<string>();
  return recipients.flatMap((address) => {
    const key = address.toLowerCase();
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ name: address, emails: [address] }];
  });
}

/** First spelling wins; addresses compare case-insensitively as mail systems treat them. */
function dedupe(emails: readonly string[]): string[] {
  const seen = new Set<string>();
  return emails.filter((email) => {
    const key = email.toLowerCase();
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
