import type { GatewayConfig } from '../config/types.js';
import type { Alarm, Due } from '../lifecycle/alarm.js';
import type { Logger } from '../log/logger.js';
import type { ResolvedReceiver, Route } from '../rules/route.js';
import type { InboxRepository, NewOutboxEntry, Repositories } from '../store/store.js';
import type { PipelineContext } from './context.js';
import { parseReceived, renderDues, type PipelineStages } from './message.js';

export interface AlarmNoticeDeps {
  /** Where the alarm's latest message is read (the transaction's inbox). */
  inbox: Pick<InboxRepository, 'get'>;
  config: GatewayConfig;
  stages: PipelineStages;
  logger: Logger;
}

/**
 * One notification of `alarm` made outside the inbox pipeline (a timer fired, a batch went
 * out), to `receivers`: rendered from the alarm's latest message as the rules in force now
 * route it (template, mode, severity). A string says why it cannot be made.
 * `count`: counted as a new notification of the alarm (else it was counted when it became due).
 */
export async function renderAlarmNotice(
  deps: AlarmNoticeDeps,
  alarm: Alarm,
  notice: { kind: Due['kind']; receivers: ResolvedReceiver[]; reason: string; now: number; count: boolean },
): Promise<{ alarm: Alarm; outbox: NewOutboxEntry[] } | string> {
  const { inbox, config, stages, logger } = deps;
  const { kind, receivers, reason, now, count } = notice;
  const received = await inbox.get(alarm.lastEventId);
  if (!received) return `its latest message ${alarm.lastEventId} is no longer in the store, so it cannot be notified`;
  try {
    const parsed = await parseReceived(received, config, stages, async () => undefined);
    if (!('event' in parsed)) return `its latest message no longer gives an alarm (${parsed.reason})`;
    const routing = await stages.route(parsed.event, now);
    const route: Route = { ...routing.route, receivers };
    const notified: Alarm = count ? { ...alarm, notifications: alarm.notifications + 1, lastNotifiedAt: now } : alarm;
    const due: Due = { kind, alarm: notified, event: parsed.event, route, reason, sequence: Math.max(1, notified.notifications), at: now };
    const outbox = await renderDues([due], received, parsed.mail, config, stages, now);
    return { alarm: notified, outbox };
  } catch (error) {
    logger.child({ alarmId: alarm.id }).error({ err: error }, `a ${kind} notification could not be made; recorded in the alarm's history`);
    return `the notification could not be made: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** renderAlarmNotice for a step of the pipeline: the alarm's latest message read through the transaction. */
export function renderNotice(
  ctx: PipelineContext,
  tx: Repositories,
  alarm: Alarm,
  kind: Due['kind'],
  receivers: ResolvedReceiver[],
  reason: string,
  now: number,
  count: boolean,
): Promise<{ alarm: Alarm; outbox: NewOutboxEntry[] } | string> {
  return renderAlarmNotice({ ...ctx, inbox: tx.inbox }, alarm, { kind, receivers, reason, now, count });
}
