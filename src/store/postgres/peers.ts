import type { Client } from 'pg';
import type { Logger } from '../../log/logger.js';
import type { HeldMqttSession, PeerSeen, Peers, Wake } from '../store.js';
import type { Sql } from './sql.js';
import { RECOVER_GONE_CLAIMS } from './outbox.js';
import { NOTIFY, parseWake, wakePayload, WAKE_CHANNEL } from './wake.js';

/**
 * The leader lock's key: one per schema, so that stores in different schemas of one
 * database (tests, or two installations sharing a server) each have their own leader.
 */
const LEADER_KEY = `hashtextextended('annunciator:leader:' || current_schema(), 0)`;

/** Whether the session `pid` holds the leader lock: an int8 advisory lock shows in pg_locks as its high and low 32 bits. */
const HOLDS_LEAD = (pid: string) =>
  `EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 AND l.pid = ${pid}
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
     AND ((l.classid::bigint << 32) | l.objid::bigint) = ${LEADER_KEY})`;

/**
 * MQTT sessions whose holder is gone: no live control session under its name, and no beat
 * for `$2` ms (a gateway whose database connection dropped beats again at once). `$1`: this gateway.
 */
const GONE_SESSIONS = `SELECT s.url, s.client_id, s.filters, s.started_at, s.gateway FROM mqtt_sessions s
  WHERE s.gateway IS NOT NULL AND s.gateway <> $1
    AND NOT EXISTS (SELECT 1 FROM gateways g JOIN pg_stat_activity a ON a.pid = g.backend_pid AND a.datname = current_database() WHERE g.name = s.gateway)
    AND NOT EXISTS (SELECT 1 FROM gateways g WHERE g.name = s.gateway AND g.last_seen > now() - make_interval(secs => $2 / 1000.0))`;

/** Rows of gateways not seen for this long are deleted by the leader. */
const FORGET_AFTER = `interval '7 days'`;

/** The gateways seen in the last `$1` ms, with which one leads: for `store status`. */
export async function peersSeen(sql: Sql, withinMs: number): Promise<PeerSeen[]> {
  const rows = await sql.rows<{ name: string; version: string; started_at: number; seen_ms_ago: number; leads: boolean }>(
    `SELECT name, version, (extract(epoch FROM started_at) * 1000)::bigint AS started_at,
            greatest(0, (extract(epoch FROM now() - last_seen) * 1000))::bigint AS seen_ms_ago, ${HOLDS_LEAD('g.backend_pid')} AS leads
       FROM gateways g WHERE last_seen > now() - make_interval(secs => $1 / 1000.0) ORDER BY leads DESC, last_seen DESC, name`,
    [withinMs],
  );
  return rows.map((r) => ({ gateway: r.name, version: r.version, startedAt: r.started_at, seenMsAgo: r.seen_ms_ago, leading: r.leads }));
}

export interface PgPeersOptions {
  gateway: string;
  /** This annunciator's version, recorded with the gateway. */
  version: string;
  /** Opens a connection of its own (not pooled: the lead lives as long as it does). */
  connect: () => Promise<Client>;
  /** How long a statement on the control connection may take before the connection counts as lost (ms). */
  statementTimeout: number;
  /** The store's time (ms), for the outbox rows the leader makes due again. */
  now: () => number;
  logger?: Logger;
}

/**
 * The lead among gateways on one PostgreSQL: a session-level advisory lock
 * (`pg_try_advisory_lock`) held on a control connection of this gateway's own. PostgreSQL
 * releases it when that session ends: the process killed (its socket closed by the kernel),
 * the connection cut, or the server noticing a peer gone silent (TCP keepalives, set short
 * on this connection). This side gives the lead up as soon as the connection reports an
 * error or end, or a beat does not answer within `statementTimeout`, so it stops leading no
 * later than the server frees the lock for another.
 */
export class PgPeers implements Peers {
  readonly gateway: string;
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #leading = false;
  #left = false;
  readonly #lostHandlers: Array<(reason: string) => void> = [];
  readonly #wakeHandlers: Array<(wake: Wake) => void> = [];
  readonly #startedAt = Date.now();

  constructor(private readonly options: PgPeersOptions) {
    this.gateway = options.gateway;
  }

  onLost(fn: (reason: string) => void): void {
    this.#lostHandlers.push(fn);
  }

  onWake(fn: (wake: Wake) => void): void {
    this.#wakeHandlers.push(fn);
  }

  async beat(): Promise<boolean> {
    if (this.#left) return false;
    const client = await this.connection();
    try {
      if (!this.#leading) {
        const { rows } = await this.timed(client, `SELECT pg_try_advisory_lock(${LEADER_KEY}) AS got`);
        this.#leading = rows[0]?.got === true;
      }
      await this.timed(
        client,
        `INSERT INTO gateways (name, version, started_at, last_seen, backend_pid) VALUES ($1, $2, to_timestamp($3 / 1000.0), now(), pg_backend_pid())
         ON CONFLICT (name) DO UPDATE SET version = excluded.version, started_at = excluded.started_at, last_seen = excluded.last_seen, backend_pid = excluded.backend_pid`,
        [this.gateway, this.options.version, this.#startedAt],
      );
      if (this.#leading) await this.sweep(client);
    } catch (error) {
      this.drop(client, `the control connection failed: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    return this.#leading;
  }

  async goneMqttSessions(graceMs: number): Promise<HeldMqttSession[]> {
    return this.heldSessions(GONE_SESSIONS, [this.gateway, graceMs]);
  }

  async stillGone(session: HeldMqttSession, graceMs: number): Promise<boolean> {
    const same = await this.heldSessions(`${GONE_SESSIONS} AND s.url = $3 AND s.client_id = $4 AND s.gateway = $5`, [this.gateway, graceMs, session.url, session.clientId, session.gateway]);
    return same.length > 0;
  }

  async forgetMqttSession(session: HeldMqttSession): Promise<void> {
    await this.timed(await this.connection(), `DELETE FROM mqtt_sessions WHERE url = $1 AND client_id = $2 AND gateway = $3`, [session.url, session.clientId, session.gateway]);
  }

  private async heldSessions(text: string, params: unknown[]): Promise<HeldMqttSession[]> {
    const { rows } = await this.timed(await this.connection(), text, params);
    return rows.map((r) => ({ url: String(r.url), clientId: String(r.client_id), filters: r.filters as string[], startedAt: Number(r.started_at), gateway: String(r.gateway) }));
  }

  async leave(): Promise<void> {
    this.#left = true;
    const client = this.#client ?? (await this.#connecting?.catch(() => undefined));
    this.#client = undefined;
    this.#leading = false;
    if (!client) return;
    // Ending the session releases the lock; unlocking first lets a peer's next beat have it without waiting for the disconnect.
    await client.query(`SELECT pg_advisory_unlock_all()`).catch(() => undefined);
    await client.end().catch(() => undefined);
  }

  private async connection(): Promise<Client> {
    if (this.#client) return this.#client;
    this.#connecting ??= this.options
      .connect()
      .then(async (client) => {
        client.on('error', (error) => this.drop(client, `the control connection failed: ${error.message}`));
        client.on('end', () => this.drop(client, 'the control connection was closed'));
        client.on('notification', (message) => {
          const heard = message.payload === undefined ? undefined : parseWake(message.payload);
          // Its own commits this gateway knows of already (its events woke the loops).
          if (heard && heard.from !== this.gateway) this.wake(heard.wake);
        });
        try {
          const { rows } = await this.timed(client, `SELECT ${WAKE_CHANNEL} AS channel`);
          await this.timed(client, `LISTEN "${String(rows[0]?.channel).replaceAll('"', '""')}"`);
        } catch (error) {
          client.connection.stream.destroy();
          await client.end().catch(() => undefined);
          throw error;
        }
        this.#client = client;
        // Whatever was sent while nobody here listened (before the start, or while the connection was lost) is looked for now.
        this.wake({ kind: 'missed' });
        return client;
      })
      .finally(() => {
        this.#connecting = undefined;
      });
    return this.#connecting;
  }

  /**
   * The leader's housekeeping at each beat: forgets gateways long gone, and makes the
   * notifications that a gateway gone (killed mid-delivery) had claimed due again, waking
   * every outbox worker: delivered at least once, as after a restart.
   */
  private async sweep(client: Client): Promise<void> {
    await this.timed(client, `DELETE FROM gateways WHERE last_seen < now() - ${FORGET_AFTER}`);
    const { rows } = await this.timed(client, RECOVER_GONE_CLAIMS, [this.options.now(), this.gateway]);
    const recovered = Number(rows[0]?.n ?? 0);
    if (recovered === 0) return;
    this.options.logger?.warn({ gateway: this.gateway, recovered }, 'outbox entries a gateway that is gone was delivering are due again (delivered at least once: a recipient may get one twice)');
    await this.timed(client, `SELECT ${NOTIFY('$1')}`, [wakePayload(this.gateway, { kind: 'outbox' })]);
    this.wake({ kind: 'outbox' });
  }

  private wake(wake: Wake): void {
    for (const fn of this.#wakeHandlers) {
      try {
        fn(wake);
      } catch (error) {
        this.options.logger?.error({ err: error, wake }, 'store: a wake-up handler failed');
      }
    }
  }

  /** A statement that must answer within the timeout: a connection that hangs is as good as lost. */
  private async timed(client: Client, text: string, params: unknown[] = []): Promise<{ rows: Array<Record<string, unknown>> }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${this.options.statementTimeout} ms`)), this.options.statementTimeout);
    });
    try {
      return await Promise.race([client.query<Record<string, unknown>>(text, params), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The control connection is gone (or no longer trusted): so is the lead; closed for good, the next beat opens another. */
  private drop(client: Client, reason: string): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    const wasLeading = this.#leading;
    this.#leading = false;
    // The socket is destroyed, not ended politely: a connection that hangs must not keep the lock alive on our side.
    client.connection.stream.destroy();
    client.end().catch(() => undefined);
    if (this.#left) return;
    this.options.logger?.warn({ gateway: this.gateway, wasLeading }, `store: ${reason}; reconnecting at the next beat`);
    for (const fn of this.#lostHandlers) fn(reason);
  }
}
