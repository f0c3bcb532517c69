import type { Silence } from '../../lifecycle/silence.js';
import type { SilenceRepository } from '../store.js';
import type { Db } from './db.js';

type DataRow = { data: string };
const parse = (row: DataRow): Silence => JSON.parse(row.data) as Silence;

/** ends_at: when a silence stops for good (window end, weekly until, early expiry); NULL for a weekly one with no end. */
export class SqliteSilences implements SilenceRepository {
  constructor(private readonly db: Db) {}

  async insert(silence: Silence, endsAt: number | undefined): Promise<void> {
    this.db.run(`INSERT INTO silences (id, created_at, ends_at, data) VALUES (?, ?, ?, ?)`, silence.id, silence.createdAt, endsAt ?? null, JSON.stringify(silence));
  }

  async get(id: string): Promise<Silence | undefined> {
    const row = this.db.get<DataRow>(`SELECT data FROM silences WHERE id = ?`, id);
    return row ? parse(row) : undefined;
  }

  async list(now: number, options: { all?: boolean } = {}): Promise<Silence[]> {
    const rows = options.all
      ? this.db.all<DataRow>(`SELECT data FROM silences ORDER BY created_at DESC, id DESC`)
      : this.db.all<DataRow>(`SELECT data FROM silences WHERE ends_at IS NULL OR ends_at > ? ORDER BY created_at DESC, id DESC`, now);
    return rows.map(parse);
  }

  async expire(id: string, now: number): Promise<Silence | undefined> {
    const row = this.db.get<DataRow & { ends_at: number | null }>(`SELECT data, ends_at FROM silences WHERE id = ?`, id);
    if (!row) return undefined;
    const silence = parse(row);
    // ends_at is when it stops for good, as its schedule said when it was stored.
    if (row.ends_at !== null && row.ends_at <= now) return silence;
    const expired: Silence = { ...silence, expiredAt: now };
    this.db.run(`UPDATE silences SET ends_at = ?, data = ? WHERE id = ?`, now, JSON.stringify(expired), id);
    return expired;
  }
}
