import type { Received } from '../../ingest/received.js';
import type { InboxRepository } from '../store.js';
import { asBuffer } from './connection.js';
import type { Db } from './db.js';
import { inRow, outOfRow } from './large-values.js';
import type { RecentBytes } from './recent-bytes.js';

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
  raw: Uint8Array;
  /** The bytes when they are kept out of the row (large-values.ts). */
  out_of_row?: Uint8Array | null;
  mqtt?: string | null;
}

export class SqliteInbox implements InboxRepository {
  readonly #recent: RecentBytes;

  constructor(private readonly db: Db) {
    this.#recent = db.recentBytes();
  }

  async insert(r: Received): Promise<void> {
    this.insertNow(r);
  }

  /** The synchronous insert, for the group commit of `SqliteStore.accept`. */
  insertNow(r: Received): void {
    this.db.run(
      `INSERT INTO received (id, received_at, listener, peer_address, peer_port, helo, auth_user, secure, mail_from, rcpt_to, raw, mqtt)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
      inRow(r.raw),
      r.mqtt ? JSON.stringify(r.mqtt) : null,
    );
    if (outOfRow(r.raw)) {
      this.db.run(`INSERT INTO received_raw (id, raw) VALUES (?, ?)`, r.id, r.raw);
      this.#recent.stage(r.id, r.raw);
    }
  }

  async pending(limit: number): Promise<Received[]> {
    const rows = this.db.all<ReceivedRow>(`SELECT * FROM received WHERE state = 'new' ORDER BY received_at, id LIMIT ?`, limit);
    // An empty row value is a large mail kept in received_raw (or an empty mail): from memory if it was just accepted.
    for (const row of rows) {
      if (row.raw.byteLength === 0) row.out_of_row = this.#recent.take(row.id) ?? this.db.get<{ raw: Uint8Array }>(`SELECT raw FROM received_raw WHERE id = ?`, row.id)?.raw ?? null;
    }
    return rows.map(toReceived);
  }

  async get(id: string): Promise<Received | undefined> {
    const row = this.db.get<ReceivedRow>(`${WITH_RAW} FROM received r LEFT JOIN received_raw b ON b.id = r.id WHERE r.id = ?`, id);
    return row ? toReceived(row) : undefined;
  }

  async complete(id: string, now: number): Promise<boolean> {
    return this.db.run(`UPDATE received SET state = 'processed', processed_at = ? WHERE id = ? AND state = 'new'`, now, id).changes > 0;
  }

  async reject(id: string, reason: string, now: number): Promise<void> {
    this.db.run(`UPDATE received SET state = 'rejected', processed_at = ?, error = ? WHERE id = ?`, now, reason, id);
  }

  async drop(id: string): Promise<void> {
    this.db.run(`DELETE FROM received WHERE id = ?`, id);
  }

  async prune(before: number, limit: number): Promise<number> {
    return this.db.run(PRUNE_RECEIVED, before, limit).changes;
  }

  async isRedelivery(topic: string, messageId: number, payload: Buffer, since: number): Promise<boolean> {
    const rows = this.db.all<ReceivedRow>(
      `${WITH_RAW} FROM received r LEFT JOIN received_raw b ON b.id = r.id
       WHERE r.mqtt IS NOT NULL AND r.received_at >= ? AND json_extract(r.mqtt, '$.topic') = ? AND json_extract(r.mqtt, '$.messageId') = ?`,
      since,
      topic,
      messageId,
    );
    return rows.some((row) => payload.equals(row.out_of_row ?? row.raw));
  }
}

/** A received row and its bytes if kept out of it, in received_raw (large-values.ts). */
const WITH_RAW = `SELECT r.*, b.raw AS out_of_row`;

export const PRUNE_RECEIVED = `DELETE FROM received WHERE id IN (
  SELECT r.id FROM received r
  WHERE r.state != 'new' AND r.processed_at < ?
    AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.received_id = r.id)
    AND r.id NOT IN (SELECT json_extract(a.data, '$.lastEventId') FROM alarms a WHERE a.state = 'active')
  LIMIT ?)`;

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
    raw: asBuffer(row.out_of_row ?? row.raw),
    ...(row.mqtt ? { mqtt: JSON.parse(row.mqtt) as Received['mqtt'] } : {}),
  };
}
