import type { Silence } from '../../lifecycle/silence.js';
import type { SilenceRepository } from '../store.js';
import type { Sql } from './sql.js';

type DataRow = { data: Silence };

/** ends_at: when a silence stops for good (window end, weekly until, early expiry); NULL for a weekly one with no end. */
export class PgSilences implements SilenceRepository {
  constructor(private readonly sql: Sql) {}

  async insert(silence: Silence, endsAt: number | undefined): Promise<void> {
    await this.sql.count(`INSERT INTO silences (id, created_at, ends_at, data) VALUES ($1, $2, $3, $4)`, [silence.id, silence.createdAt, endsAt ?? null, JSON.stringify(silence)]);
  }

  async get(id: string): Promise<Silence | undefined> {
    const [row] = await this.sql.rows<DataRow>(`SELECT data FROM silences WHERE id = $1`, [id]);
    return row?.data;
  }

  async list(now: number, options: { all?: boolean } = {}): Promise<Silence[]> {
    const rows = options.all
      ? await this.sql.rows<DataRow>(`SELECT data FROM silences ORDER BY created_at DESC, id DESC`)
      : await this.sql.rows<DataRow>(`SELECT data FROM silences WHERE ends_at IS NULL OR ends_at > $1 ORDER BY created_at DESC, id DESC`, [now]);
    return rows.map((r) => r.data);
  }

  async expire(id: string, now: number): Promise<Silence | undefined> {
    // Locked: two people ending one silence at once record one end.
    const [row] = await this.sql.rows<DataRow & { ends_at: number | null }>(`SELECT data, ends_at FROM silences WHERE id = $1 FOR UPDATE`, [id]);
    if (!row) return undefined;
    // ends_at is when it stops for good, as its schedule said when it was stored.
    if (row.ends_at !== null && row.ends_at <= now) return row.data;
    const expired: Silence = { ...row.data, expiredAt: now };
    await this.sql.count(`UPDATE silences SET ends_at = $1, data = $2 WHERE id = $3`, [now, JSON.stringify(expired), id]);
    return expired;
  }
}
