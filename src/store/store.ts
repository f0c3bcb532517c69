import type { CommitObserver } from './commit-timing.js';
import type { Received } from '../ingest/received.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { Batch, BatchItem, HeldNotification } from '../lifecycle/batch.js';
import type { Timer, TimerKind } from '../lifecycle/timer.js';
import type { FloodState } from '../lifecycle/flood.js';
import type { Silence } from '../lifecycle/silence.js';
import type { TopicState } from '../parse/mqtt-event.js';

/**
 * The gateway's one piece of shared state, behind an async interface so that a server
 * database can stand in for the embedded SQLite file.
 *
 * - `transaction(fn)` runs `fn` with one repository per aggregate; what `fn` reads is the
 *   state its writes are based on (no other writer comes between), and everything it
 *   wrote is durable (fsync'd) when the promise resolves, or nothing when `fn` throws.
 * - `accept(received)` is the inbox hand-off before `250`/PUBACK: durable when it
 *   resolves; concurrent calls share one commit (group commit). `committed` is told
 *   earlier when the backend flushes after the commit (AcceptOptions).
 * - Bytes change hands: `accept` and `outbox.insert` take the message bytes over (the
 *   backend may keep those very Buffers for the read that follows), and what `pending`
 *   and `claimDue` return belongs to the caller alone, which frees it once done
 *   (base/release-bytes.ts). So the bytes given are not used after the commit, and the
 *   bytes handed out are never shared with another caller.
 * - The repositories on the store itself run each call as a transaction of its own, for
 *   reads and one-statement changes. Never call them from inside `fn`: use `tx`.
 */
export interface Store extends Repositories {
  /** `sqlite` or `postgres`: for logs and `store status`. */
  readonly backend: string;
  transaction<T>(fn: (tx: Repositories) => Promise<T>, options?: TransactionOptions): Promise<T>;
  accept(received: Received, options?: AcceptOptions): Promise<void>;
  /** `observer` hears how long each commit took (transaction and accept); the returned function stops it. */
  observeCommits(observer: CommitObserver): () => void;
  /** Gives the space that pruning freed back to the file system (outside any transaction). */
  compact(): Promise<void>;
  /**
   * Whether the store can take work now, and if not why (for `/-/ready` and logs). While
   * it cannot, `accept` and `transaction` reject with a `StoreError` saying why.
   */
  health(): StoreHealth;
  /**
   * Present when several gateways can share the store (PostgreSQL): who leads, and a
   * connection of this gateway's own for that. Absent on the SQLite file: one gateway, the
   * leader always.
   */
  readonly peers?: Peers;
  close(): Promise<void>;
}

/** How a transaction's commit is reported (`Store.transaction`). */
export interface AcceptOptions {
  /**
   * Called once the message is committed, when every reader sees it, which can be before it
   * is durable (SQLite flushes the WAL after the commit; a backend that is durable at commit
   * calls it just before `accept` resolves). Work that may repeat can start then, while the
   * flush runs: the inbox runner does, so a message's processing does not wait for the flush
   * its `250` waits for. Should the flush fail, the device hears `451` and sends again; that
   * repeats the message, at worst a notification sent twice, as a power failure would.
   */
  committed?: () => void;
}

export interface TransactionOptions {
  /**
   * `false`: resolve once the transaction committed, without waiting for its flush to the
   * disk. Every reader sees it at once and a crash or kill of the process cannot lose it;
   * a power failure before the next flush can (the flush follows at once, and any durable
   * commit after it covers it). Only for work whose loss can at most repeat a delivery:
   * what the outbox claims for sending, a notification computed from a mail the inbox
   * holds durably. Then the only flush on a message's way is the one before `250`/PUBACK,
   * and the pipeline does not wait for that either (AcceptOptions). Default `true`.
   */
  awaitFlush?: boolean;
}

/**
 * This gateway among the others on one database. The lead (timers, the reply watcher, the
 * retained MQTT state) is held on a control connection of its own: it ends with that
 * connection, so a gateway that dies, hangs or loses the database loses it, and another
 * takes it at its next `beat`.
 */
export interface Peers {
  /** This gateway's name among its peers. */
  readonly gateway: string;
  /**
   * One round on the control connection: connects when it has none, records this gateway
   * as seen, and tries to take the lead when it does not hold it. Whether it leads now.
   * Rejects when the database cannot be reached (it then leads no more).
   */
  beat(): Promise<boolean>;
  /** `fn` hears at once when the control connection is lost, with why: the lead (if held) went with it. */
  onLost(fn: (reason: string) => void): void;
  /** Gives up the lead and closes the control connection (another gateway can take the lead at once). */
  leave(): Promise<void>;
  /** `fn` hears the wake-ups other gateways' commits sent (LISTEN/NOTIFY), and `missed` after the control connection was back. */
  onWake(fn: (wake: Wake) => void): void;
  /**
   * The persistent MQTT sessions held by gateways that are gone: their control session has
   * ended and they have not beaten for `graceMs` (a gateway reconnecting to the database is
   * not gone). The leader drains them (ingest/mqtt/mqtt-drains.ts).
   */
  goneMqttSessions(graceMs: number): Promise<HeldMqttSession[]>;
  /** Whether the session is still held by that gateway and the gateway still gone: a drain yields to a gateway that came back. */
  stillGone(session: HeldMqttSession, graceMs: number): Promise<boolean>;
  /** Forgets a session ended for good (its holder, coming back, starts a new one without taking it for lost). */
  forgetMqttSession(session: HeldMqttSession): Promise<void>;
}

/** A persistent MQTT session with the gateway that holds it. */
export interface HeldMqttSession extends MqttSession {
  gateway: string;
}

/**
 * What another gateway's commit says may need doing here: a message in the inbox, a
 * notification in the outbox, a timer due sooner than any other, an alarm whose retained
 * state changed; `missed` when this gateway could not hear for a while (its control
 * connection was lost) and should look at everything.
 */
export type Wake = { kind: 'inbox' } | { kind: 'outbox' } | { kind: 'timer'; dueAt: number } | { kind: 'alarm'; alarmId: string } | { kind: 'missed' };

/** A gateway as `store status` shows it. */
export interface PeerSeen {
  gateway: string;
  version: string;
  /** When it started (ms since the epoch). */
  startedAt: number;
  /** How long ago its last beat was, by the database's clock (ms). */
  seenMsAgo: number;
  /** Whether it holds the lead now. */
  leading: boolean;
}

export type StoreHealth =
  | { ok: true }
  | {
      ok: false;
      /** What is wrong and what happens meanwhile, in a sentence for a log or a status page. */
      reason: string;
      /** The backend's code (`SQLITE_FULL`, `SQLITE_READONLY_DBMOVED`). */
      code: string;
      /** Since when (clock time). */
      since: number;
      /** True when only an operator can end it (the file was deleted or replaced: restart). */
      needsRestart: boolean;
    };

export interface Repositories {
  readonly inbox: InboxRepository;
  readonly alarms: AlarmRepository;
  readonly timers: TimerRepository;
  readonly batches: BatchRepository;
  readonly silences: SilenceRepository;
  readonly outbox: OutboxRepository;
  readonly topics: TopicRepository;
  readonly mqttSessions: MqttSessionRepository;
  readonly audit: AuditRepository;
  readonly loginSessions: LoginSessionRepository;
}

/** Messages as they came in (SMTP or MQTT), kept until processed and then for the record. */
export interface InboxRepository {
  insert(received: Received): Promise<void>;
  /** Messages the pipeline has not processed yet, oldest first; their `raw` bytes are the caller's alone. */
  pending(limit: number): Promise<Received[]>;
  get(id: string): Promise<Received | undefined>;
  /**
   * Marks a message processed; false when it was not waiting any more (processed,
   * rejected or unknown): the guard that makes a second pass over one message a no-op.
   */
  complete(id: string, now: number): Promise<boolean>;
  /** Marks a message as impossible to process; it stays in the store for inspection. */
  reject(id: string, reason: string, now: number): Promise<void>;
  /** Forgets a message that changed nothing worth keeping (telemetry inside its band). */
  drop(id: string): Promise<void>;
  /**
   * Whether a redelivered MQTT message (DUP set) was already accepted since `since`; with
   * `clientId`, among that client's messages only (several gateways share one store, each
   * with packet ids of its own session).
   */
  isRedelivery(topic: string, messageId: number, payload: Buffer, since: number, clientId?: string): Promise<boolean>;
  /**
   * Deletes up to `limit` messages processed or rejected before `before`, except those a
   * notification still refers to and the latest message of each active alarm (it renders
   * the alarm's later notifications). How many.
   */
  prune(before: number, limit: number): Promise<number>;
}

export interface AlarmLogEntry {
  receivedId: string;
  at: number;
  outcome: string;
  reason: string;
}

/** What `alarms.list` lets through; each given criterion must hold. Names compare without regard to case. */
export interface AlarmFilter {
  /** The device's id or its name. */
  device?: string;
  site?: string;
  /** Any of these. */
  severities?: readonly Alarm['severity'][];
  /** true: someone acknowledged it; false: nobody has. */
  acknowledged?: boolean;
}

/**
 * One page of `alarms.page`: newest first (last seen, then id, both descending), each
 * given criterion holding; names compare without regard to case.
 */
export interface AlarmPageQuery {
  /** Empty: every state. */
  states: readonly Alarm['state'][];
  /** Any of these. */
  severities?: readonly Alarm['severity'][];
  /** The device's id. */
  device?: string;
  site?: string;
  area?: string;
  /** true: someone acknowledged it; false: nobody has. */
  acknowledged?: boolean;
  /** Only alarms after this one in the order (the last of the previous page). */
  after?: { lastSeen: number; id: string };
  limit: number;
}

/** A device as its alarms know it: the identity its newest alarm carries, when it was last heard from, how many of its alarms are active. */
export interface DeviceActivity {
  device: Alarm['device'];
  /** The latest last-seen time among its stored alarms. */
  lastSeen: number;
  activeAlarms: number;
}

export interface ActiveAlarmCount {
  severity: Alarm['severity'];
  acknowledged: boolean;
  /** Held by a silence or an inhibition (`mutedBy` set). */
  muted: boolean;
  count: number;
}

export interface AlarmRepository {
  /** The active alarm of a fingerprint (there is at most one). */
  active(fingerprint: string): Promise<Alarm | undefined>;
  get(id: string): Promise<Alarm | undefined>;
  /** Most recently seen first; with a filter, only the alarms it lets through. */
  list(states: Alarm['state'][], limit?: number, filter?: AlarmFilter): Promise<Alarm[]>;
  /** A page of alarms in the order of an index (no sort of every match): API v1's list. */
  page(query: AlarmPageQuery): Promise<Alarm[]>;
  /**
   * Every device that has a stored alarm (by lower-case id), with when it was last heard
   * from and its count of active alarms: one index step per device, not per alarm.
   */
  devices(): Promise<DeviceActivity[]>;
  /** Ids that begin with `prefix` (as stored, case-sensitive), in order, at most `limit`: for ids typed in part. */
  idsWithPrefix(prefix: string, limit: number): Promise<string[]>;
  /** Inserts or replaces the alarm. */
  save(alarm: Alarm): Promise<void>;
  /** Appends an entry to the alarm's history (`alarmId` null: a message that gave no alarm). */
  log(alarmId: string | null, entry: AlarmLogEntry): Promise<void>;
  history(alarmId: string): Promise<AlarmLogEntry[]>;
  /** Active alarms a silence or an inhibition muted (`mutedBy` set), oldest first. */
  muted(): Promise<Alarm[]>;
  /** How many alarms are active, per severity (only severities that have any): one query, for `/metrics` at scrape time. */
  activeBySeverity(): Promise<Partial<Record<Alarm['severity'], number>>>;
  /** Active alarms counted by severity, acknowledged and muted (only combinations that have any): one query, for `/metrics` at scrape time. */
  activeSummary(): Promise<ActiveAlarmCount[]>;
  /**
   * Every address a notification of the alarm was queued for (its outbox rows, any status,
   * and the groups and digests that listed it), lower-case, each once.
   */
  recipients(alarmId: string): Promise<string[]>;
  /** Deletes up to `limit` alarms resolved and last seen before `before`, with their history and timers, and history lines of messages that gave no alarm. How many alarms. */
  prune(before: number, limit: number): Promise<number>;
}

/** Everything done later, one table (lifecycle/timer.ts). */
export interface TimerRepository {
  /** Stores timers; one already stored with the same kind and key is kept as it is. */
  add(timers: Timer[]): Promise<void>;
  /** Sets a timer to go off at its due time, pending again even if it fired or was cancelled before. */
  arm(timer: Timer): Promise<void>;
  get(kind: TimerKind, key: string): Promise<Timer | undefined>;
  /** An alarm's timers, pending, fired and cancelled, by due time. */
  ofAlarm(alarmId: string): Promise<Timer[]>;
  /** Pending timers due at `now`, earliest first. */
  due(now: number, limit: number): Promise<Timer[]>;
  /** The earliest pending timer's due time. */
  nextDueAt(): Promise<number | undefined>;
  /** How many timers are pending, per kind (only kinds that have any): one query over the pending ones, for `/metrics`. */
  pendingByKind(): Promise<Partial<Record<TimerKind, number>>>;
  /** Marks a pending timer fired; false when it had fired or been cancelled already. */
  fire(kind: TimerKind, key: string, now: number): Promise<boolean>;
  /** Cancels a pending timer; false when there was none pending. */
  cancel(kind: TimerKind, key: string, now: number): Promise<boolean>;
  /** Cancels an alarm's pending escalation levels: all, or on a clear only those whose policy stops on a clear. How many. */
  cancelEscalations(alarmId: string, now: number, onlyThoseStoppedByAClear?: boolean): Promise<number>;
  /** Deletes up to `limit` timers that fired or were cancelled before `before`. How many. */
  prune(before: number, limit: number): Promise<number>;
}

export interface BatchRepository {
  /** A held notification joins the open batch of its key, or opens one (`opened`). */
  hold(held: HeldNotification, now: number): Promise<{ id: string; opened: boolean }>;
  get(id: string): Promise<Batch | undefined>;
  /** Batches not sent yet whose time has come, earliest first. */
  due(now: number, limit: number): Promise<Batch[]>;
  nextDueAt(): Promise<number | undefined>;
  items(batchId: string): Promise<BatchItem[]>;
  /** The groups and digests an alarm was (or is to be) listed in. */
  ofAlarm(alarmId: string): Promise<Batch[]>;
  /** Marks a batch sent; false when it was sent already. */
  markSent(id: string, now: number): Promise<boolean>;
  /** Flood control's counters for a scope ("device:plc-4"). */
  floodState(scope: string): Promise<FloodState | undefined>;
  saveFloodState(state: FloodState): Promise<void>;
  /** Deletes up to `limit` groups and digests sent before `before`, with their items. How many. */
  prune(before: number, limit: number): Promise<number>;
}

export interface SilenceRepository {
  /** `endsAt`: when it stops for good (lifecycle's silenceEndsAt), undefined for a weekly one with no end. */
  insert(silence: Silence, endsAt: number | undefined): Promise<void>;
  get(id: string): Promise<Silence | undefined>;
  /** Silences not over at `now` (with `all`, every silence), newest first. */
  list(now: number, options?: { all?: boolean }): Promise<Silence[]>;
  /** Ends a silence now; undefined when there is none, else the silence (unchanged if it was already over). */
  expire(id: string, now: number): Promise<Silence | undefined>;
}

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
  /**
   * The last `length` bytes of `message` are those of the received mail `receivedId` from
   * `offset` to its end. A backend may keep only the bytes before them and read the rest from
   * that mail, which the store keeps while the entry is (a relayed 100 KiB body is then
   * written once, not twice); what it hands back is `message`, whole, either way.
   */
  bodyOfReceived?: { offset: number; length: number };
}

export interface OutboxEntry extends Omit<NewOutboxEntry, 'bodyOfReceived'> {
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

/** An outbox entry without its message: what is told and listed about it. */
export type OutboxRecord = Omit<OutboxEntry, 'message'>;

export type OutboxSummary = OutboxRecord & { size: number };

export interface DeliveryFailureUpdate {
  now: number;
  error: string;
  account: string | null;
  rejectedRecipients: string[];
}

export interface OutboxRepository {
  insert(entry: NewOutboxEntry, now: number): Promise<void>;
  /** Leases due entries (pending, nextAttemptAt <= now), marks them `sending` and counts the attempt; their `message` bytes are the caller's alone. */
  claimDue(now: number, limit: number): Promise<OutboxEntry[]>;
  /** Entries left `sending` by a crash go back to `pending`: delivery is at least once. */
  recoverInterrupted(now: number): Promise<number>;
  markSent(id: string, now: number, account: string, rejectedRecipients: string[]): Promise<void>;
  /** Records a transient failure; `recipients` are those still to be delivered. */
  reschedule(id: string, update: DeliveryFailureUpdate & { nextAttemptAt: number; recipients: string[] }): Promise<void>;
  markFailed(id: string, update: DeliveryFailureUpdate): Promise<void>;
  /** In the order queued (created, then id); with `limit`, a page after `after` (the last entry of the previous page). */
  list(statuses: OutboxStatus[], page?: { limit: number; after?: { createdAt: number; id: string } }): Promise<OutboxSummary[]>;
  /**
   * The notifications about an alarm, in the order queued: its own entries and those of
   * the groups and digests that listed it (`batchKind` says which: group, digest, ack).
   */
  ofAlarm(alarmId: string): Promise<(OutboxSummary & { batchKind: string | null })[]>;
  get(id: string): Promise<OutboxEntry | undefined>;
  /** Up to `limit` ids that begin with `prefix`, in order: what `queue show` resolves a typed beginning of an id with. */
  idsWithPrefix(prefix: string, limit: number): Promise<string[]>;
  /** Makes pending or failed entries due now; how many changed. */
  retryNow(ids: string[] | 'all', now: number): Promise<number>;
  /** Deletes entries, never one being sent; how many. */
  delete(ids: string[]): Promise<number>;
  /** The earliest time a pending entry becomes due. */
  nextDueAt(): Promise<number | undefined>;
  /** How many entries wait (pending) and when the oldest of them was queued: one query, for `/metrics`. */
  pendingSummary(): Promise<{ count: number; oldestCreatedAt: number | undefined }>;
  /**
   * Pending entries per account last tried (`null`: not tried yet, or no account could be):
   * how many and the oldest one's queue time. One query over the pending entries.
   */
  pendingByAccount(): Promise<Array<{ account: string | null; count: number; oldestCreatedAt: number }>>;
  /**
   * What the outbox still holds of each account's deliveries: its newest `sentAt`, and the
   * newest error of an entry not sent (pending, sending or failed) last tried on it. Reads
   * the sent entries kept (retention), so it is for once at start, not per request.
   */
  accountRecords(): Promise<AccountDeliveryRecord[]>;
  /** Deletes up to `limit` entries sent or failed before `before` (last updated). How many. */
  prune(before: number, limit: number): Promise<number>;
}

export interface AccountDeliveryRecord {
  account: string;
  lastSentAt: number | undefined;
  lastError: { message: string; at: number } | undefined;
}

/** A persistent MQTT session the gateway set up with a broker: what it subscribed, and when. */
export interface MqttSession {
  url: string;
  clientId: string;
  /** The topic filters subscribed, sorted. */
  filters: string[];
  /** When the broker set the session up (the connect that found none); 0 when the gateway found it already there. */
  startedAt: number;
}

/**
 * The MQTT sessions the gateway set up. A broker that answers a later connect with no
 * session for one of them has lost it, and with it what it held for us.
 */
export interface MqttSessionRepository {
  get(url: string, clientId: string): Promise<MqttSession | undefined>;
  save(session: MqttSession): Promise<void>;
}

/** One act of a person or script on the gateway: an acknowledgement, a silence, a queue action, a reload, a login. */
export interface AuditEntry {
  /** Increasing: the newest entry has the highest. */
  id: number;
  at: number;
  /** A user or token name; `local` on loopback without users. */
  actor: string;
  /** How the actor was known: session, token, loopback, link, mail, mqtt, cli. */
  via: string;
  /** The remote address, when the act came over the network. */
  peer: string | null;
  /** What was done, e.g. `alarm.acknowledge`, `silence.create`, `outbox.retry`, `reload`, `login`, `login.failed`. */
  action: string;
  /** What it was done to (an alarm, silence or outbox id), when one thing. */
  target: string | null;
  /** The rest: a comment, the matchers of a silence, the ids of many alarms, what a reload changed. */
  detail: Record<string, unknown> | null;
}

export interface AuditQuery {
  limit: number;
  /** Entries older than this id (the page before). */
  beforeId?: number;
  action?: string;
  actor?: string;
  target?: string;
}

/** The audit log: appended to, read newest first, pruned after `store.retention.audit`. */
export interface AuditRepository {
  record(entry: Omit<AuditEntry, 'id'>): Promise<void>;
  list(query: AuditQuery): Promise<AuditEntry[]>;
  prune(before: number, limit: number): Promise<number>;
}

/**
 * A login to the console or the API (src/api/auth/sessions.ts). Kept in the store so that
 * gateways sharing one database share the logins. The session id itself lives only in the
 * browser's cookie: the store holds its SHA-256, so a copy of the database logs nobody in.
 */
export interface LoginSession {
  /** SHA-256 of the session id, hex. */
  idHash: string;
  /** The user's name; the role is read from the configuration in force at each request. */
  name: string;
  createdAt: number;
  lastSeenAt: number;
  /** Where the login came from. */
  peer: string | null;
}

export interface LoginSessionRepository {
  create(session: LoginSession): Promise<void>;
  get(idHash: string): Promise<LoginSession | undefined>;
  /** Records use at `at`; false when the session is gone. */
  touch(idHash: string, at: number): Promise<boolean>;
  /** Ends one session (logout); false when there was none. */
  delete(idHash: string): Promise<boolean>;
  /** Deletes up to `limit` sessions last used before `idleBefore` or made before `createdBefore`. */
  prune(idleBefore: number, createdBefore: number, limit: number): Promise<number>;
}

/** The last state of each numeric MQTT telemetry topic (in band, beyond a limit). */
export interface TopicRepository {
  get(topic: string): Promise<TopicState | undefined>;
  save(state: TopicState): Promise<void>;
}
