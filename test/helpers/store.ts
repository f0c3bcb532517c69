import { acknowledgeIn } from '../../src/pipeline/acknowledge.js';
import { Effects } from '../../src/pipeline/effects.js';
import { savePipelineResult, type PipelineResult } from '../../src/pipeline/message.js';
import type { AckOutcome, AckRequest, Acknowledge } from '../../src/lifecycle/ack.js';
import type { Alarm, AlarmAck } from '../../src/lifecycle/alarm.js';
import type { AlarmRepository, Store } from '../../src/store/store.js';

/**
 * Test setup: marks a received message processed and saves what the pipeline made of it,
 * in one transaction, as the inbox processor does (nothing when the message was processed already).
 */
export async function commitPipeline(store: Store, receivedId: string, result: PipelineResult, now: number): Promise<void> {
  await store.transaction(async (tx) => {
    if (!(await tx.inbox.complete(receivedId, now))) return;
    await savePipelineResult(tx, receivedId, result, now, new Effects());
  });
}

/** Acknowledges an alarm as every door does: one transaction, the first acknowledgement counts. */
export function acknowledge(store: Store, alarmId: string, ack: AlarmAck, now: number = ack.at): Promise<AckOutcome> {
  return store.transaction((tx) => acknowledgeIn(tx, alarmId, ack, now));
}

/**
 * An `Acknowledge` for a door under test: the requests in one transaction, as the gateway
 * does; each recorded alarm is pushed to `recorded`. `skip` makes alarms unknown (purged).
 */
export function acknowledger(store: Store, recorded: Alarm[] = [], skip: (alarmId: string) => boolean = () => false): Acknowledge {
  return (requests: readonly AckRequest[]) =>
    store
      .transaction(async (tx) => {
        const outcomes: AckOutcome[] = [];
        for (const { alarmId, ack } of requests) outcomes.push(skip(alarmId) ? { outcome: 'unknown-alarm' } : await acknowledgeIn(tx, alarmId, ack, ack.at));
        return outcomes;
      })
      .then((outcomes) => {
        for (const o of outcomes) if (o.outcome === 'recorded') recorded.push(o.alarm);
        return outcomes;
      });
}

/** The alarm repository `alarms` with its `get` replaced: a view for tests that make the store "forget" or race. */
export function alarmsWith(alarms: AlarmRepository, get: AlarmRepository['get']): AlarmRepository {
  return {
    get,
    active: (fingerprint) => alarms.active(fingerprint),
    list: (states, limit, filter) => alarms.list(states, limit, filter),
    page: (query) => alarms.page(query),
    devices: () => alarms.devices(),
    idsWithPrefix: (prefix, limit) => alarms.idsWithPrefix(prefix, limit),
    save: (alarm) => alarms.save(alarm),
    log: (alarmId, entry) => alarms.log(alarmId, entry),
    history: (alarmId) => alarms.history(alarmId),
    muted: () => alarms.muted(),
    activeBySeverity: () => alarms.activeBySeverity(),
    activeSummary: () => alarms.activeSummary(),
    recipients: (alarmId) => alarms.recipients(alarmId),
    prune: (before, limit) => alarms.prune(before, limit),
  };
}
