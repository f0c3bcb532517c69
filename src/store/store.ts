import type { Received } from '../ingest/received.js';
import type { Alarm, AlarmAck, Decision } from '../lifecycle/alarm.js';
import type { Batch, BatchItem, HeldNotification } from '../lifecycle/batch.js';
import type { EscalationTimer } from '../lifecycle/escalation.js';
import type { FloodState } from '../lifecycle/flood.js';
import type { Silence } from '../lifecycle/silence.js';
import type { TopicState } from '../parse/mqtt-event.js';

/**
 * The gateway's one piece of shared state. Every method that changes something is
 * durable when it returns: the SQLite implementation commits with fsync, so a `250`
 * given after `insertReceived` survives `kill -9` and power loss.
 */

export type OutboxStatus = 'pending' | 'sending' | 'sent' | 'failed';

export interface NewOutboxEntry {
  id: string;
  receivedId: string | null;
  /** The alarm a notification is about; null for relayed mail. */
  alarmId?: string | null;
  /** The group or digest a notification lists (lifecycle/batch.ts); its alarms are the batch's. */
  batchId?: string | null;
  envelopeFrom: string;
  recipients: string[];
  message: Buffer;
}

export interface OutboxEntry extends NewOutboxEntry {
  createdAt: number;
  status: OutboxStatus;
  attempts: number;
  nextAttemptAt: number;
  lastError: string | null;
  lastAccount: string | null;
  updatedAt: number;
  sentAt: number | null;
  /** Recipients an upstream refused for good; kept for the record. */
  rejectedRecipients: string[];
}

export type OutboxSummary = Omit<OutboxEntry, 'message'> & { size: number };

/** The middle of the pipeline's result for one received message, saved in one transaction. */
export interface PipelineResult {
  alarm?: Alarm;
  /** A numeric telemetry topic's new state. */
  topicState?: TopicState;
  /** `no-change`: telemetry that changed no alarm; the message itself is not kept. */
  outcome: Decision['outcome'] | 'no-change';
  reason: string;
  outbox: NewOutboxEntry[];
  /** A newly raised alarm's escalation timers, stored with it. */
  escalationTimers?: EscalationTimer[];
  /** Notifications held for a group or digest (each joins the open batch of its key). */
  held?: HeldNotification[];
  /** Flood control's counters, per scope counted. */
  floodStates?: FloodState[];
}

/** A group or digest going out: its notification, the history entry of each alarm it lists, and the scope's flood state after a digest. */
export interface BatchFlush {
  batchId: string;
  outbox: NewOutboxEntry[];
  log: { alarmId: string; receivedId: string; outcome: string; reason: string }[];
  floodState?: FloodState;
}

export interface AlarmLogEntry {
  receivedId: string;
  at: number;
  outcome: string;
  reason: string;
}

/** A change to an alarm made by a timer rather than a received message (a silence ended). */
export interface AlarmChange {
  /** The alarm as it was read; the change is saved only if the store still holds exactly this. */
  expected: Alarm;
  alarm: Alarm;
  /** The message the history entry and notifications refer to (the alarm's latest occurrence). */
  receivedId: string;
  outcome: Decision['outcome'];
  reason: string;
  outbox: NewOutboxEntry[];
  /**
   * An escalation level firing: its timer is marked fired in the same transaction (and the
   * change is refused when it already fired or was cancelled); `next` is the next repeat of
   * the last level; `cancel` cancels the alarm's pending timers.
   */
  escalation?: { fired?: { alarmId: string; level: number }; next?: EscalationTimer; cancel?: boolean };
  /** A notification held for a flood-control digest instead of the outbox, and the scope's counters. */
  held?: HeldNotification[];
  floodStates?: FloodState[];
}

export interface Store {
  insertReceived(received: Received): void;
  /** Received messages the middle of the pipeline has not turned into outbox entries yet, oldest first. */
  pendingReceived(limit: number): Received[];
  /** Marks a received message done and queues its outbox entries, in one transaction. */
  completeReceived(receivedId: string, entries: NewOutboxEntry[], now: number): void;
  /** Marks a received message done, saves its alarm and history, queues notifications: one transaction. */
  commitPipeline(receivedId: string, result: PipelineResult, now: number): void;
  activeAlarm(fingerprint: string): Alarm | undefined;
  getAlarm(id: string): Alarm | undefined;
  /** Most recently seen first. */
  listAlarms(states: Alarm['state'][], limit?: number): Alarm[];
  alarmLog(alarmId: string): AlarmLogEntry[];
  getReceived(id: string): Received | undefined;
  topicState(topic: string): TopicState | undefined;
  /** Whether a redelivered MQTT message (DUP set) was already committed since `since`. */
  isRedelivery(topic: string, messageId: number, payload: Buffer, since: number): boolean;
  /** Records an acknowledgement (the first one counts) and cancels the alarm's pending escalation timers; undefined when there is no such alarm. */
  acknowledge(alarmId: string, ack: AlarmAck, now: number): Alarm | undefined;
  /**
   * Every address a notification of the alarm was queued for (outbox rows with its alarm id,
   * any status), lower-case, each once: who may acknowledge it by replying.
   */
  alarmRecipients(alarmId: string): string[];
  /** Active alarms a silence or an inhibition muted (`mutedBy` set), oldest first. */
  mutedAlarms(): Alarm[];
  /**
   * Saves an alarm change, its history entry and its notifications in one transaction;
   * false (nothing saved) when the alarm changed since `expected` was read.
   */
  commitAlarmChange(change: AlarmChange, now: number): boolean;

  /** An alarm's escalation timers, fired, cancelled and pending, by level. */
  escalationTimers(alarmId: string): EscalationTimer[];
  /** Pending timers due at `now`, earliest first. */
  dueEscalationTimers(now: number, limit: number): EscalationTimer[];
  /** The earliest pending timer's due time, to sleep until then. */
  nextEscalationDueAt(): number | undefined;
  /** Cancels an alarm's pending timers; how many. (`acknowledge` does this itself.) */
  cancelEscalationTimers(alarmId: string, now: number): number;
  /** Acknowledged alarms whose acknowledgement was not announced yet, earliest ack first. */
  unannouncedAcks(limit: number): Alarm[];

  /** Flood control's counters for a scope ("device:plc-4"). */
  floodState(scope: string): FloodState | undefined;
  getBatch(id: string): Batch | undefined;
  /** Batches not sent yet whose time has come, earliest first. */
  dueBatches(now: number, limit: number): Batch[];
  nextBatchDueAt(): number | undefined;
  batchItems(batchId: string): BatchItem[];
  /** The groups and digests an alarm was (or is to be) listed in. */
  batchesOfAlarm(alarmId: string): Batch[];
  /** Marks the batch sent with its notification and history; false (nothing written) when it was sent already. */
  commitBatchFlush(flush: BatchFlush, now: number): boolean;
  insertSilence(silence: Silence): void;
  getSilence(id: string): Silence | undefined;
  /** Silences not over at `now` (holding, still to come, between weekly occurrences); with `all`, every silence. Newest first. */
  listSilences(now: number, options?: { all?: boolean }): Silence[];
  /** Ends a silence now; undefined when there is none, else the silence (unchanged if it was already over). */
  expireSilence(id: string, now: number): Silence | undefined;

  /** Marks a received message as impossible to process; it stays in the store for inspection. */
  rejectReceived(receivedId: string, reason: string, now: number): void;

  /** Leases due entries (pending, nextAttemptAt <= now) and marks them `sending`. */
  claimDueOutbox(now: number, limit: number): OutboxEntry[];
  /** Entries left `sending` by a crash go back to `pending`: delivery is at least once. */
  recoverInterruptedOutbox(now: number): number;
  markSent(id: string, now: number, account: string, rejectedRecipients: string[]): void;
  /** Records a transient failure; `recipients` are those still to be delivered. */
  reschedule(id: string, update: { now: number; nextAttemptAt: number; error: string; account: string | null; recipients: string[]; rejectedRecipients: string[] }): void;
  markFailed(id: string, update: { now: number; error: string; account: string | null; rejectedRecipients: string[] }): void;

  listOutbox(statuses: OutboxStatus[]): OutboxSummary[];
  getOutbox(id: string): OutboxEntry | undefined;
  /** Makes pending or failed entries due now; returns how many changed. */
  retryNow(ids: string[] | 'all', now: number): number;
  deleteOutbox(ids: string[]): number;
  /** The earliest time a pending entry becomes due, to sleep until then. */
  nextDueAt(): number | undefined;

  close(): void;
}
