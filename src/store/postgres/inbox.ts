import type { Received } from '../../ingest/received.js';
import type { InboxRepository } from '../store.js';
import type { Sql } from './sql.js';
import { NOTIFY, wakePayload } from './wake.js';

interface ReceivedRow {
  id: string;
  received_at: number;
  listener: string;
  peer_address: string;
  peer_port: number;
  helo: string | null;
  auth_user: string | null;
  secure: boolean;
  mail_from: string | null;
  rcpt_to: string[];
  raw: Buffer;
  mqtt: Received['mqtt'] | null;
}

const COLUMNS = 'id, received_at, listener, peer_address, peer_port, helo, auth_user, secure, mail_from, rcpt_to, raw, mqtt, mqtt_topic, mqtt_message_id';
const PER_ROW = 14;
const SELECT = 'SELECT id, received_at, listener, peer_address, peer_port, helo, auth_user, secure, mail_from, rcpt_to, raw, mqtt FROM received';

/** At most this many messages per INSERT statement (PostgreSQL takes up to 65,535 parameters). */
export const INSERT_CHUNK = 500;

export class PgInbox implements InboxRepository {
  /** `gateway`: who sends the wake-up for new messages (wake.ts). */
  constructor(
    private readonly sql: Sql,
    private readonly gateway: string,
  ) {}

  async insert(r: Received): Promise<void> {
    await this.insertMany([r]);
  }

  /** Several messages in one statement: the group commit of PostgresStore.accept. */
  async insertMany(received: readonly Received[]): Promise<void> {
    for (let start = 0; start < received.length; start += INSERT_CHUNK) {
      const chunk = received.slice(start, start + INSERT_CHUNK);
      const rows = chunk.map((_, i) => `(${Array.from({ length: PER_ROW }, (_, c) => `$${i * PER_ROW + c + 1}`).join(', ')})`);
      // One message: the prepared statement. Several: a text of their number, not worth keeping prepared.
      // The other gateways hear of them when this commits (the same statement: no round trip more).
      await this.sql.count(
        `WITH inserted AS (INSERT INTO received (${COLUMNS}) VALUES ${rows.join(', ')}) SELECT ${NOTIFY(`$${chunk.length * PER_ROW + 1}`)}`,
        [...chunk.flatMap(params), wakePayload(this.gateway, { kind: 'inbox' })],
        chunk.length > 1 ? 'unprepared' : undefined,
      );
    }
  }

  async pending(limit: number): Promise<Received[]> {
    // Claimed until the transaction ends: another gateway's inbox runner skips these and takes the next ones, instead of waiting to find them processed.
    return (await this.sql.rows<ReceivedRow>(`${SELECT} WHERE state = 'new' ORDER BY received_at, id LIMIT $1 FOR UPDATE SKIP LOCKED`, [limit])).map(toReceived);
  }

  async get(id: string): Promise<Received | undefined> {
    const [row] = await this.sql.rows<ReceivedRow>(`${SELECT} WHERE id = $1`, [id]);
    return row ? toReceived(row) : undefined;
  }

  async complete(id: string, now: number): Promise<boolean> {
    // A second gateway completing the same message waits for the first to commit, then finds it no longer new.
    return (await this.sql.count(`UPDATE received SET state = 'processed', processed_at = $1 WHERE id = $2 AND state = 'new'`, [now, id])) > 0;
  }

  async reject(id: string, reason: string, now: number): Promise<void> {
    await this.sql.count(`UPDATE received SET state = 'rejected', processed_at = $1, error = $2 WHERE id = $3`, [now, reason, id]);
  }

  async drop(id: string): Promise<void> {
    await this.sql.count(`DELETE FROM received WHERE id = $1`, [id]);
  }

  async prune(before: number, limit: number): Promise<number> {
    return this.sql.count(
      `DELETE FROM received WHERE id IN (
         SELECT r.id FROM received r
         WHERE r.state <> 'new' AND r.processed_at < $1
           AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.received_id = r.id)
           AND NOT EXISTS (SELECT 1 FROM alarms a WHERE a.state = 'active' AND a.last_event_id = r.id)
         LIMIT $2)`,
      [before, limit],
    );
  }

  async isRedelivery(topic: string, messageId: number, payload: Buffer, since: number, clientId?: string): Promise<boolean> {
    // Messages stored before the client id was recorded count for every client, as they did.
    const rows = await this.sql.rows<{ raw: Buffer }>(
      `SELECT raw FROM received WHERE mqtt_topic = $1 AND mqtt_message_id = $2 AND received_at >= $3 AND ($4::text IS NULL OR mqtt->>'clientId' IS NULL OR mqtt->>'clientId' = $4)`,
      [topic, messageId, since, clientId ?? null],
    );
    return rows.some((row) => row.raw.equals(payload));
  }
}

function params(r: Received): unknown[] {
  return [
    r.id,
    r.receivedAt,
    r.listener,
    r.peer.address,
    r.peer.port,
    r.peer.helo ?? null,
    r.peer.authUser ?? null,
    r.peer.secure,
    r.envelope.mailFrom,
    JSON.stringify(r.envelope.rcptTo),
    r.raw,
    r.mqtt ? JSON.stringify(r.mqtt) : null,
    r.mqtt?.topic ?? null,
    r.mqtt?.messageId ?? null,
  ];
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
      secure: row.secure,
    },
    envelope: { mailFrom: row.mail_from, rcptTo: row.rcpt_to },
    raw: row.raw,
    ...(row.mqtt ? { mqtt: row.mqtt } : {}),
  };
}
