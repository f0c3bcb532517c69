import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Received } from '../ingest/received.js';
import type { Alarm, AlarmAck } from '../lifecycle/alarm.js';
import type { Batch, BatchItem, HeldNotification } from '../lifecycle/batch.js';
import type { EscalationTimer, EscalationTimerData } from '../lifecycle/escalation.js';
import type { FloodState } from '../lifecycle/flood.js';
import { newId } from '../base/ids.js';
import { silenceEndsAt, type Silence } from '../lifecycle/silence.js';
import type { TopicState } from '../parse/mqtt-event.js';
import type { AlarmChange, AlarmLogEntry, BatchFlush, NewOutboxEntry, OutboxEntry, OutboxStatus, OutboxSummary, PipelineResult, Store } from './store.js';

const SCHEMA_VERSION = 6;

const MIGRATIONS: string[] = [
  `CREATE TABLE received (
     id TEXT PRIMARY KEY,
     received_at INTEGER NOT NULL,
     listener TEXT NOT NULL,
     peer_address TEXT NOT NULL,
     peer_port INTEGER NOT NULL,
     helo TEXT,
     auth_user TEXT,
     secure INTEGER NOT NULL,
     mail_from TEXT,
     rcpt_to TEXT NOT NULL,
     raw BLOB NOT NULL,
     state TEXT NOT NULL DEFAULT 'new',
     processed_at INTEGER,
     error TEXT
   );
   CREATE INDEX received_state ON received(state, received_at);
   CREATE TABLE outbox (
     id TEXT PRIMARY KEY,
     received_id TEXT REFERENCES received(id),
     created_at INTEGER NOT NULL,
     envelope_from TEXT NOT NULL,
     recipients TEXT NOT NULL,
     message BLOB NOT NULL,
     status TEXT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_attempt_at INTEGER NOT NULL,
     last_error TEXT,
     last_account TEXT,
     updated_at INTEGER NOT NULL,
     sent_at INTEGER,
     rejected_recipients TEXT NOT NULL DEFAULT '[]'
   );
   CREATE INDEX outbox_due ON outbox(status, next_attempt_at);`,
  `CREATE TABLE alarms (
     id TEXT PRIMARY KEY,
     fingerprint TEXT NOT NULL,
     state TEXT NOT NULL,
     first_seen INTEGER NOT NULL,
     last_seen INTEGER NOT NULL,
     data TEXT NOT NULL
   );
   CREATE UNIQUE INDEX alarms_one_active ON alarms(fingerprint) WHERE state = 'active';
   CREATE INDEX alarms_state ON alarms(state, last_seen);
   CREATE TABLE alarm_log (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     alarm_id TEXT,
     received_id TEXT NOT NULL,
     at INTEGER NOT NULL,
     outcome TEXT NOT NULL,
     reason TEXT NOT NULL
   );
   CREATE INDEX alarm_log_alarm ON alarm_log(alarm_id, seq);
   ALTER TABLE outbox ADD COLUMN alarm_id TEXT;`,
  `ALTER TABLE received ADD COLUMN mqtt TEXT;
   CREATE INDEX received_mqtt_dup ON received(received_at) WHERE mqtt IS NOT NULL;
   CREATE TABLE topic_state (
     topic TEXT PRIMARY KEY,
     state TEXT NOT NULL,
     value REAL NOT NULL,
     at INTEGER NOT NULL
   );`,
  // Silences (maintenance windows). ends_at: when it stops for good (window end, weekly
  // until, early expiry), NULL for a weekly one with no end: it is what "current" is read by.
  `CREATE TABLE silences (
     id TEXT PRIMARY KEY,
     created_at INTEGER NOT NULL,
     ends_at INTEGER,
     data TEXT NOT NULL
   );
   CREATE INDEX silences_ends ON silences(ends_at);`,
  // Escalation timers: one row per level (and per repeat of the last level) of an alarm's
  // policy. fired_at guards against firing twice; cancelled_at is set by an ack or clear.
  // Alarms acknowledged before this version count as announced.
  `CREATE TABLE escalation_timers (
     alarm_id TEXT NOT NULL,
     level INTEGER NOT NULL,
     due_at INTEGER NOT NULL,
     fired_at INTEGER,
     cancelled_at INTEGER,
     data TEXT NOT NULL,
     PRIMARY KEY (alarm_id, level)
   );
   CREATE INDEX escalation_timers_due ON escalation_timers(due_at) WHERE fired_at IS NULL AND cancelled_at IS NULL;
   UPDATE alarms SET data = json_set(data, '$.ackAnnounced', json('true')) WHERE json_extract(data, '$.ack') IS NOT NULL;`,
  // Groups and digests (lifecycle/batch.ts): held notifications collect in the one open
  // batch of their key until it goes out (sent_at). Flood control's counters per scope.
  `CREATE TABLE batches (
     id TEXT PRIMARY KEY,
     key TEXT NOT NULL,
     kind TEXT NOT NULL,
     label TEXT NOT NULL,
     opened_at INTEGER NOT NULL,
     flush_at INTEGER NOT NULL,
     receivers TEXT NOT NULL,
     sent_at INTEGER
   );
   CREATE UNIQUE INDEX batches_one_open ON batches(key) WHERE sent_at IS NULL;
   CREATE INDEX batches_due ON batches(flush_at) WHERE sent_at IS NULL;
   CREATE TABLE batch_items (
     seq INTEGER PRIMARY KEY AUTOINCREMENT,
     batch_id TEXT NOT NULL REFERENCES batches(id),
     alarm_id TEXT NOT NULL,
     kind TEXT NOT NULL,
     reason TEXT NOT NULL,
     at INTEGER NOT NULL
   );
   CREATE INDEX batch_items_batch ON batch_items(batch_id, seq);
   CREATE INDEX batch_items_alarm ON batch_items(alarm_id);
   CREATE TABLE flood_state (
     scope TEXT PRIMARY KEY,
     data TEXT NOT NULL
   );
   ALTER TABLE outbox ADD COLUMN batch_id TEXT;
   CREATE INDEX outbox_alarm ON outbox(alarm_id) WHERE alarm_id IS NOT NULL;
   CREATE INDEX outbox_batch ON outbox(batch_id) WHERE batch_id IS NOT NULL;`,
];

interface BatchRow {
  id: string;
  key: string;
  kind: Batch['kind'];
  label: string;
  opened_at: number;
  flush_at: number;
  receivers: string;
  sent_at: number | null;
}

function toBatch(row: BatchRow): Batch {
  return {
    id: row.id,
    key: row.key,
    kind: row.kind,
    label: row.label,
    openedAt: row.opened_at,
    flushAt: row.flush_at,
    receivers: JSON.parse(row.receivers) as Batch['receivers'],
    ...(row.sent_at !== null ? { sentAt: row.sent_at } : {}),
  };
}

interface TimerRow {
  alarm_id: string;
  level: number;
  due_at: number;
  fired_at: number | null;
  cancelled_at: number | null;
  data: string;
}

function toTimer(row: TimerRow): EscalationTimer {
  return {
    alarmId: row.alarm_id,
    level: row.level,
    dueAt: row.due_at,
    ...(row.fired_at !== null ? { firedAt: row.fired_at } : {}),
    ...(row.cancelled_at !== null ? { cancelledAt: row.cancelled_at } : {}),
    data: JSON.parse(row.data) as EscalationTimerData,
  };
}

interface ReceivedRow {
  id: string;
  received_at: number;
  listener: string;
  peer_address: string;
  peer_port: number;
  helo: string | null;
  auth_user: string | null;
  secure: number;
  mail_from: string | null;
  rcpt_to: string;
  raw: Buffer;
  mqtt?: string | null;
}

interface OutboxRow {
  id: string;
  received_id: string | null;
  alarm_id?: string | null;
  batch_id?: string | null;
  created_at: number;
  envelope_from: string;
  recipients: string;
  message: Buffer;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  last_account: string | null;
  updated_at: number;
  sent_at: number | null;
  rejected_recipients: string;
  size?: number;
}

export class SqliteStore implements Store {
  readonly db: Database.Database;

  /** Opens (and creates or migrates) `annunciator.db` in `dataDir`. */
  static open(dataDir: string): SqliteStore {
    mkdirSync(dataDir, { recursive: true });
    return new SqliteStore(join(dataDir, 'annunciator.db'));
  }

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // FULL makes every commit fsync the WAL: the durability a `250` promises.
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    // The CLI and the gateway share the file; wait for each other's short transactions.
    this.db.pragma('busy_timeout = 5000');
    this.migrate();
  }

  readonly #statements = new Map<string, Database.Statement>();

  /** Prepared once per SQL text: preparing on every call cost ~5% of CPU under load. */
  private statement(sql: string): Database.Statement {
    let statement = this.#statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql);
      this.#statements.set(sql, statement);
    }
    return statement;
  }

  private migrate(): void {
    const current = this.db.pragma('user_version', { simple: true }) as number;
    if (current > SCHEMA_VERSION) {
      throw new Error(`store schema version ${current} is newer than this annunciator understands (${SCHEMA_VERSION})`);
    }
    this.db.transaction(() => {
      for (let version = current; version < MIGRATIONS.length; version += 1) {
        this.db.exec(MIGRATIONS[version]!);
      }
      this.db.pragma(`user_version = ${MIGRATIONS.length}`);
    }).immediate();
  }

  insertReceived(r: Received): void {
    this
      .statement(
        `INSERT INTO received (id, received_at, listener, peer_address, peer_port, helo, auth_user, secure, mail_from, rcpt_to, raw, mqtt)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(
        r.id,
        r.receivedAt,
        r.listener,
        r.peer.address,
        r.peer.port,
        r.peer.helo ?? null,
        r.peer.authUser ?? null,
        r.peer.secure ? 1 : 0,
        r.envelope.mailFrom,
        JSON.stringify(r.envelope.rcptTo),
        r.raw,
        r.mqtt ? JSON.stringify(r.mqtt) : null,
      );
  }

  pendingReceived(limit: number): Received[] {
    const rows = this.statement(`SELECT * FROM received WHERE state = 'new' ORDER BY received_at, id LIMIT ?`).all(limit) as ReceivedRow[];
    return rows.map(toReceived);
  }

  completeReceived(receivedId: string, entries: NewOutboxEntry[], now: number): void {
    const done = this.statement(`UPDATE received SET state = 'processed', processed_at = ? WHERE id = ? AND state = 'new'`);
    this.db.transaction(() => {
      // The state guard makes a second pass over the same message a no-op, so a crash
      // between two passes can never queue a message twice.
      if (done.run(now, receivedId).changes === 0) return;
      for (const entry of entries) this.insertOutbox(entry, now);
    }).immediate();
  }

  private insertOutbox(entry: NewOutboxEntry, now: number): void {
    this
      .statement(
        `INSERT INTO outbox (id, received_id, alarm_id, batch_id, created_at, envelope_from, recipients, message, status, next_attempt_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)`,
      )
      .run(entry.id, entry.receivedId, entry.alarmId ?? null, entry.batchId ?? null, now, entry.envelopeFrom, JSON.stringify(entry.recipients), entry.message, now, now);
  }

  commitPipeline(receivedId: string, result: PipelineResult, now: number): void {
    const upsert = this.statement(
      `INSERT INTO alarms (id, fingerprint, state, first_seen, last_seen, data) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(id) DO UPDATE SET state = excluded.state, last_seen = excluded.last_seen, data = excluded.data`,
    );
    const log = this.statement(`INSERT INTO alarm_log (alarm_id, received_id, at, outcome, reason) VALUES (?, ?, ?, ?, ?)`);
    const done = this.statement(`UPDATE received SET state = 'processed', processed_at = ? WHERE id = ? AND state = 'new'`);
    this.db.transaction(() => {
      if (done.run(now, receivedId).changes === 0) return;
      if (result.topicState) {
        const t = result.topicState;
        this
          .statement(`INSERT INTO topic_state (topic, state, value, at) VALUES (?, ?, ?, ?) ON CONFLICT(topic) DO UPDATE SET state = excluded.state, value = excluded.value, at = excluded.at`)
          .run(t.topic, t.state, t.value, t.at);
      }
      if (result.outcome === 'no-change') {
        // Telemetry inside its band changes nothing worth keeping; only the topic state above.
        this.statement(`DELETE FROM received WHERE id = ?`).run(receivedId);
        return;
      }
      if (result.alarm) {
        // An acknowledgement may have landed (MQTT, CLI) after the pipeline read the alarm.
        const stored = this.getAlarm(result.alarm.id);
        const withAck = stored?.ack && !result.alarm.ack ? { ...result.alarm, ack: stored.ack } : result.alarm;
        // ... and its announcement (the escalation scheduler) too, so it is not announced twice.
        const a = stored?.ackAnnounced && !withAck.ackAnnounced ? { ...withAck, ackAnnounced: true } : withAck;
        upsert.run(a.id, a.fingerprint, a.state, a.firstSeen, a.lastSeen, JSON.stringify(a));
        for (const timer of result.escalationTimers ?? []) this.insertTimer(timer);
        if (a.state === 'resolved') this.cancelTimers(a.id, now, 'cleared');
      }
      log.run(result.alarm?.id ?? null, receivedId, now, result.outcome, result.reason);
      for (const entry of result.outbox) this.insertOutbox(entry, now);
      for (const held of result.held ?? []) this.hold(held, now);
      for (const state of result.floodStates ?? []) this.saveFloodState(state);
    }).immediate();
  }

  activeAlarm(fingerprint: string): Alarm | undefined {
    const row = this.statement(`SELECT data FROM alarms WHERE fingerprint = ? AND state = 'active'`).get(fingerprint) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as Alarm) : undefined;
  }

  getAlarm(id: string): Alarm | undefined {
    const row = this.statement(`SELECT data FROM alarms WHERE id = ?`).get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as Alarm) : undefined;
  }

  listAlarms(states: Alarm['state'][], limit = 1000): Alarm[] {
    if (states.length === 0) return [];
    const rows = this
      .statement(`SELECT data FROM alarms WHERE state IN (${states.map(() => '?').join(',')}) ORDER BY last_seen DESC LIMIT ?`)
      .all(...states, limit) as { data: string }[];
    return rows.map((row) => JSON.parse(row.data) as Alarm);
  }

  alarmLog(alarmId: string): AlarmLogEntry[] {
    const rows = this.statement(`SELECT received_id, at, outcome, reason FROM alarm_log WHERE alarm_id = ? ORDER BY seq`).all(alarmId) as {
      received_id: string;
      at: number;
      outcome: string;
      reason: string;
    }[];
    return rows.map((r) => ({ receivedId: r.received_id, at: r.at, outcome: r.outcome, reason: r.reason }));
  }

  topicState(topic: string): TopicState | undefined {
    const row = this.statement(`SELECT topic, state, value, at FROM topic_state WHERE topic = ?`).get(topic) as TopicState | undefined;
    return row ? { ...row } : undefined;
  }

  isRedelivery(topic: string, messageId: number, payload: Buffer, since: number): boolean {
    const rows = this
      .statement(`SELECT raw, mqtt FROM received WHERE mqtt IS NOT NULL AND received_at >= ? AND json_extract(mqtt, '$.topic') = ? AND json_extract(mqtt, '$.messageId') = ?`)
      .all(since, topic, messageId) as { raw: Buffer }[];
    return rows.some((row) => row.raw.equals(payload));
  }

  alarmRecipients(alarmId: string): string[] {
    // After a partial delivery a row keeps only the recipients still to be sent to
    // (reschedule): callers add the alarm's own `receivers` for those. A group or digest
    // that listed the alarm was sent to it as well.
    const rows = this
      .statement(
        `SELECT DISTINCT lower(trim(value)) AS address FROM outbox, json_each(outbox.recipients)
         WHERE outbox.alarm_id = ? OR outbox.batch_id IN (SELECT batch_id FROM batch_items WHERE alarm_id = ?) ORDER BY address`,
      )
      .all(alarmId, alarmId) as { address: string }[];
    return rows.map((row) => row.address);
  }

  acknowledge(alarmId: string, ack: AlarmAck, now: number): Alarm | undefined {
    return this.db.transaction(() => {
      const alarm = this.getAlarm(alarmId);
      if (!alarm) return undefined;
      if (alarm.ack) return alarm;
      const acked: Alarm = { ...alarm, ack };
      this.statement(`UPDATE alarms SET data = ? WHERE id = ?`).run(JSON.stringify(acked), alarmId);
      this.cancelTimers(alarmId, now, 'acknowledged');
      this
        .statement(`INSERT INTO alarm_log (alarm_id, received_id, at, outcome, reason) VALUES (?, ?, ?, 'acknowledged', ?)`)
        .run(alarmId, ack.ref ?? '-', now, `acknowledged by ${ack.by} via ${ack.channel}${ack.comment ? `: ${ack.comment}` : ''}`);
      return acked;
    }).immediate();
  }

  mutedAlarms(): Alarm[] {
    const rows = this
      .statement(`SELECT data FROM alarms WHERE state = 'active' AND json_extract(data, '$.mutedBy') IS NOT NULL ORDER BY first_seen, id`)
      .all() as { data: string }[];
    return rows.map((row) => JSON.parse(row.data) as Alarm);
  }

  commitAlarmChange(change: AlarmChange, now: number): boolean {
    return this.db.transaction(() => {
      const row = this.statement(`SELECT data FROM alarms WHERE id = ?`).get(change.expected.id) as { data: string } | undefined;
      // The stored JSON is what JSON.stringify wrote, and parsing and writing it again
      // gives the same text: every change since the read (a new occurrence, an ack) differs.
      if (!row || row.data !== JSON.stringify(change.expected)) return false;
      const fired = change.escalation?.fired;
      if (fired) {
        const marked = this
          .statement(`UPDATE escalation_timers SET fired_at = ? WHERE alarm_id = ? AND level = ? AND fired_at IS NULL AND cancelled_at IS NULL`)
          .run(now, fired.alarmId, fired.level).changes;
        // Fired or cancelled meanwhile (another gateway pass, an ack): nothing is sent twice.
        if (marked === 0) return false;
      }
      if (change.escalation?.next) this.insertTimer(change.escalation.next);
      if (change.escalation?.cancel) this.cancelTimers(change.expected.id, now, 'all');
      const a = change.alarm;
      this.statement(`UPDATE alarms SET state = ?, last_seen = ?, data = ? WHERE id = ?`).run(a.state, a.lastSeen, JSON.stringify(a), a.id);
      this.statement(`INSERT INTO alarm_log (alarm_id, received_id, at, outcome, reason) VALUES (?, ?, ?, ?, ?)`).run(a.id, change.receivedId, now, change.outcome, change.reason);
      for (const entry of change.outbox) this.insertOutbox(entry, now);
      for (const held of change.held ?? []) this.hold(held, now);
      for (const state of change.floodStates ?? []) this.saveFloodState(state);
      return true;
    }).immediate();
  }

  /** A held notification joins the open batch of its key, or opens one. */
  private hold(held: HeldNotification, now: number): void {
    const open = this.statement(`SELECT id FROM batches WHERE key = ? AND sent_at IS NULL`).get(held.batchKey) as { id: string } | undefined;
    const batchId = open?.id ?? newId(now);
    if (!open) {
      this
        .statement(`INSERT INTO batches (id, key, kind, label, opened_at, flush_at, receivers) VALUES (?, ?, ?, ?, ?, ?, ?)`)
        .run(batchId, held.batchKey, held.batchKind, held.label, now, held.flushAt, JSON.stringify(held.receivers));
    }
    this.statement(`INSERT INTO batch_items (batch_id, alarm_id, kind, reason, at) VALUES (?, ?, ?, ?, ?)`).run(batchId, held.alarmId, held.kind, held.reason, held.at);
  }

  private saveFloodState(state: FloodState): void {
    this.statement(`INSERT INTO flood_state (scope, data) VALUES (?, ?) ON CONFLICT(scope) DO UPDATE SET data = excluded.data`).run(state.scope, JSON.stringify(state));
  }

  floodState(scope: string): FloodState | undefined {
    const row = this.statement(`SELECT data FROM flood_state WHERE scope = ?`).get(scope) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as FloodState) : undefined;
  }

  getBatch(id: string): Batch | undefined {
    const row = this.statement(`SELECT * FROM batches WHERE id = ?`).get(id) as BatchRow | undefined;
    return row ? toBatch(row) : undefined;
  }

  dueBatches(now: number, limit: number): Batch[] {
    const rows = this.statement(`SELECT * FROM batches WHERE sent_at IS NULL AND flush_at <= ? ORDER BY flush_at, id LIMIT ?`).all(now, limit) as BatchRow[];
    return rows.map(toBatch);
  }

  nextBatchDueAt(): number | undefined {
    const row = this.statement(`SELECT min(flush_at) AS due FROM batches WHERE sent_at IS NULL`).get() as { due: number | null };
    return row.due ?? undefined;
  }

  batchItems(batchId: string): BatchItem[] {
    const rows = this.statement(`SELECT alarm_id, kind, reason, at FROM batch_items WHERE batch_id = ? ORDER BY seq`).all(batchId) as { alarm_id: string; kind: BatchItem['kind']; reason: string; at: number }[];
    return rows.map((r) => ({ alarmId: r.alarm_id, kind: r.kind, reason: r.reason, at: r.at }));
  }

  batchesOfAlarm(alarmId: string): Batch[] {
    const rows = this.statement(`SELECT DISTINCT b.* FROM batches b JOIN batch_items i ON i.batch_id = b.id WHERE i.alarm_id = ? ORDER BY b.opened_at, b.id`).all(alarmId) as BatchRow[];
    return rows.map(toBatch);
  }

  commitBatchFlush(flush: BatchFlush, now: number): boolean {
    return this.db.transaction(() => {
      // Sent by another pass meanwhile: nothing goes out twice.
      if (this.statement(`UPDATE batches SET sent_at = ? WHERE id = ? AND sent_at IS NULL`).run(now, flush.batchId).changes === 0) return false;
      const log = this.statement(`INSERT INTO alarm_log (alarm_id, received_id, at, outcome, reason) VALUES (?, ?, ?, ?, ?)`);
      for (const entry of flush.log) log.run(entry.alarmId, entry.receivedId, now, entry.outcome, entry.reason);
      for (const entry of flush.outbox) this.insertOutbox(entry, now);
      if (flush.floodState) this.saveFloodState(flush.floodState);
      return true;
    }).immediate();
  }

  private insertTimer(timer: EscalationTimer): void {
    this
      .statement(`INSERT OR IGNORE INTO escalation_timers (alarm_id, level, due_at, fired_at, cancelled_at, data) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(timer.alarmId, timer.level, timer.dueAt, timer.firedAt ?? null, timer.cancelledAt ?? null, JSON.stringify(timer.data));
  }

  /** Cancels an alarm's pending timers: all of them, or (on a clear) those whose policy stops on a clear. */
  private cancelTimers(alarmId: string, now: number, why: 'acknowledged' | 'cleared' | 'all'): number {
    const onlyClearStops = why === 'cleared' ? ` AND json_extract(data, '$.stopOn') = 'acknowledged-or-cleared'` : '';
    return this.statement(`UPDATE escalation_timers SET cancelled_at = ? WHERE alarm_id = ? AND fired_at IS NULL AND cancelled_at IS NULL${onlyClearStops}`).run(now, alarmId).changes;
  }

  escalationTimers(alarmId: string): EscalationTimer[] {
    const rows = this.statement(`SELECT * FROM escalation_timers WHERE alarm_id = ? ORDER BY level`).all(alarmId) as TimerRow[];
    return rows.map(toTimer);
  }

  dueEscalationTimers(now: number, limit: number): EscalationTimer[] {
    const rows = this
      .statement(`SELECT * FROM escalation_timers WHERE fired_at IS NULL AND cancelled_at IS NULL AND due_at <= ? ORDER BY due_at, alarm_id, level LIMIT ?`)
      .all(now, limit) as TimerRow[];
    return rows.map(toTimer);
  }

  nextEscalationDueAt(): number | undefined {
    const row = this.statement(`SELECT min(due_at) AS due FROM escalation_timers WHERE fired_at IS NULL AND cancelled_at IS NULL`).get() as { due: number | null };
    return row.due ?? undefined;
  }

  cancelEscalationTimers(alarmId: string, now: number): number {
    return this.db.transaction(() => this.cancelTimers(alarmId, now, 'all')).immediate();
  }

  unannouncedAcks(limit: number): Alarm[] {
    const rows = this
      .statement(`SELECT data FROM alarms WHERE json_extract(data, '$.ack') IS NOT NULL AND json_extract(data, '$.ackAnnounced') IS NULL ORDER BY json_extract(data, '$.ack.at'), id LIMIT ?`)
      .all(limit) as { data: string }[];
    return rows.map((row) => JSON.parse(row.data) as Alarm);
  }

  insertSilence(silence: Silence): void {
    this.statement(`INSERT INTO silences (id, created_at, ends_at, data) VALUES (?, ?, ?, ?)`).run(silence.id, silence.createdAt, silenceEndsAt(silence) ?? null, JSON.stringify(silence));
  }

  getSilence(id: string): Silence | undefined {
    const row = this.statement(`SELECT data FROM silences WHERE id = ?`).get(id) as { data: string } | undefined;
    return row ? (JSON.parse(row.data) as Silence) : undefined;
  }

  listSilences(now: number, options: { all?: boolean } = {}): Silence[] {
    const rows = (
      options.all
        ? this.statement(`SELECT data FROM silences ORDER BY created_at DESC, id DESC`).all()
        : this.statement(`SELECT data FROM silences WHERE ends_at IS NULL OR ends_at > ? ORDER BY created_at DESC, id DESC`).all(now)
    ) as { data: string }[];
    return rows.map((row) => JSON.parse(row.data) as Silence);
  }

  expireSilence(id: string, now: number): Silence | undefined {
    return this.db.transaction(() => {
      const silence = this.getSilence(id);
      if (!silence) return undefined;
      const endsAt = silenceEndsAt(silence);
      if (endsAt !== undefined && endsAt <= now) return silence;
      const expired: Silence = { ...silence, expiredAt: now };
      this.statement(`UPDATE silences SET ends_at = ?, data = ? WHERE id = ?`).run(now, JSON.stringify(expired), id);
      return expired;
    }).immediate();
  }

  getReceived(id: string): Received | undefined {
    const row = this.statement(`SELECT * FROM received WHERE id = ?`).get(id) as ReceivedRow | undefined;
    return row ? toReceived(row) : undefined;
  }

  rejectReceived(receivedId: string, reason: string, now: number): void {
    this.statement(`UPDATE received SET state = 'rejected', processed_at = ?, error = ? WHERE id = ?`).run(now, reason, receivedId);
  }

  claimDueOutbox(now: number, limit: number): OutboxEntry[] {
    return this.db.transaction(() => {
      const rows = this
        .statement(`SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`)
        .all(now, limit) as OutboxRow[];
      const claim = this.statement(`UPDATE outbox SET status = 'sending', attempts = attempts + 1, updated_at = ? WHERE id = ?`);
      for (const row of rows) claim.run(now, row.id);
      return rows.map((row) => toEntry({ ...row, status: 'sending', attempts: row.attempts + 1 }));
    }).immediate();
  }

  recoverInterruptedOutbox(now: number): number {
    return this
      .statement(`UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ?, last_error = coalesce(last_error, 'interrupted by a restart') WHERE status = 'sending'`)
      .run(now, now).changes;
  }

  markSent(id: string, now: number, account: string, rejectedRecipients: string[]): void {
    this
      .statement(`UPDATE outbox SET status = 'sent', sent_at = ?, updated_at = ?, last_account = ?, rejected_recipients = ? WHERE id = ?`)
      .run(now, now, account, JSON.stringify(rejectedRecipients), id);
  }

  reschedule(id: string, u: { now: number; nextAttemptAt: number; error: string; account: string | null; recipients: string[]; rejectedRecipients: string[] }): void {
    this
      .statement(
        `UPDATE outbox SET status = 'pending', next_attempt_at = ?, last_error = ?, last_account = ?, recipients = ?, rejected_recipients = ?, updated_at = ?
         WHERE id = ? AND status = 'sending'`,
      )
      .run(u.nextAttemptAt, u.error, u.account, JSON.stringify(u.recipients), JSON.stringify(u.rejectedRecipients), u.now, id);
  }

  markFailed(id: string, u: { now: number; error: string; account: string | null; rejectedRecipients: string[] }): void {
    this
      .statement(`UPDATE outbox SET status = 'failed', last_error = ?, last_account = ?, rejected_recipients = ?, updated_at = ? WHERE id = ?`)
      .run(u.error, u.account, JSON.stringify(u.rejectedRecipients), u.now, id);
  }

  listOutbox(statuses: OutboxStatus[]): OutboxSummary[] {
    if (statuses.length === 0) return [];
    const rows = this
      .statement(
        `SELECT id, received_id, alarm_id, batch_id, created_at, envelope_from, recipients, status, attempts, next_attempt_at, last_error, last_account, updated_at, sent_at, rejected_recipients, length(message) AS size
         FROM outbox WHERE status IN (${statuses.map(() => '?').join(',')}) ORDER BY created_at, id`,
      )
      .all(...statuses) as OutboxRow[];
    return rows.map((row) => {
      const { message: _message, ...summary } = toEntry({ ...row, message: Buffer.alloc(0) });
      return { ...summary, size: row.size ?? 0 };
    });
  }

  getOutbox(id: string): OutboxEntry | undefined {
    const row = this.statement(`SELECT * FROM outbox WHERE id = ?`).get(id) as OutboxRow | undefined;
    return row ? toEntry(row) : undefined;
  }

  retryNow(ids: string[] | 'all', now: number): number {
    if (ids === 'all') {
      return this.statement(`UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE status IN ('pending', 'failed')`).run(now, now).changes;
    }
    const update = this.statement(`UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ? WHERE id = ? AND status IN ('pending', 'failed')`);
    return this.db.transaction(() => ids.reduce((n, id) => n + update.run(now, now, id).changes, 0)).immediate();
  }

  deleteOutbox(ids: string[]): number {
    // An entry being sent right now is left alone: deleting it could not stop the send.
    const remove = this.statement(`DELETE FROM outbox WHERE id = ? AND status != 'sending'`);
    return this.db.transaction(() => ids.reduce((n, id) => n + remove.run(id).changes, 0)).immediate();
  }

  nextDueAt(): number | undefined {
    const row = this.statement(`SELECT min(next_attempt_at) AS due FROM outbox WHERE status = 'pending'`).get() as { due: number | null };
    return row.due ?? undefined;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

function toEntry(row: OutboxRow): OutboxEntry {
  return {
    id: row.id,
    receivedId: row.received_id,
    alarmId: row.alarm_id ?? null,
    batchId: row.batch_id ?? null,
    createdAt: row.created_at,
    envelopeFrom: row.envelope_from,
    recipients: JSON.parse(row.recipients) as string[],
    message: row.message,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    lastAccount: row.last_account,
    updatedAt: row.updated_at,
    sentAt: row.sent_at,
    rejectedRecipients: JSON.parse(row.rejected_recipients) as string[],
  };
}

function toReceived(row: ReceivedRow): Received {
  return {
    id: row.id,
    receivedAt: row.received_at,
    listener: row.listener,
    peer: {
      address: row.peer_address,
      port: row.peer_port,
      helo: row.helo ?? undefined,
      authUser: row.auth_user ?? undefined,
      secure: row.secure === 1,
    },
    envelope: { mailFrom: row.mail_from, rcptTo: JSON.parse(row.rcpt_to) as string[] },
    raw: row.raw,
    ...(row.mqtt ? { mqtt: JSON.parse(row.mqtt) as Received['mqtt'] } : {}),
  };
}
