import { acknowledgeIn } from '../../src/gateway/acknowledge.js';
import { savePipelineResult, type PipelineResult } from '../../src/gateway/alarm-pipeline.js';
import type { AckOutcome } from '../../src/lifecycle/ack.js';
import type { AlarmAck } from '../../src/lifecycle/alarm.js';
import type { AlarmRepository, Store } from '../../src/store/store.js';

/**
 * Test setup: marks a received message processed and saves what the pipeline made of it,
 * in one transaction, as the inbox processor does (nothing when the message was processed already).
 */
export async function commitPipeline(store: Store, receivedId: string, result: PipelineResult, now: number): Promise<void> {
  await store.transaction(async (tx) => {
    if (!(await tx.inbox.complete(receivedId, now))) return;
    await savePipelineResult(tx, receivedId, result, now);
  });
}

/** Acknowledges an alarm as every door does: one transaction, the first acknowledgement counts. */
export function acknowledge(store: Store, alarmId: string, ack: AlarmAck, now: number = ack.at): Promise<AckOutcome> {
  return store.transaction((tx) => acknowledgeIn(tx, alarmId, ack, now));
}

/** The alarm repository `alarms` with its `get` replaced: a view for tests that make the store "forget" or race. */
export function alarmsWith(alarms: AlarmRepository, get: AlarmRepository['get']): AlarmRepository {
  return {
    get,
    active: (fingerprint) => alarms.active(fingerprint),
    list: (states, limit) => alarms.list(states, limit),
    save: (alarm) => alarms.save(alarm),
    log: (alarmId, entry) => alarms.log(alarmId, entry),
    history: (alarmId) => alarms.history(alarmId),
    muted: () => alarms.muted(),
    unannouncedAcks: (limit) => alarms.unannouncedAcks(limit),
    recipients: (alarmId) => alarms.recipients(alarmId),
  };
}
