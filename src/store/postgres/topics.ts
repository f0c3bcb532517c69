import type { TopicState } from '../../parse/mqtt-event.js';
import type { TopicRepository } from '../store.js';
import { readLocked } from './locks.js';
import type { Sql } from './sql.js';

/** A topic's state is read to decide the next one (deadband): locked like an alarm (locks.ts). */
export class PgTopics implements TopicRepository {
  constructor(private readonly sql: Sql) {}

  async get(topic: string): Promise<TopicState | undefined> {
    const [row] = await readLocked<TopicState>(this.sql, `topic:${topic}`, `SELECT topic, state, value, at FROM topic_state WHERE topic = $1 FOR UPDATE`, [topic]);
    return row ? { topic: row.topic, state: row.state, value: row.value, at: row.at } : undefined;
  }

  async save(t: TopicState): Promise<void> {
    await this.sql.count(
      `INSERT INTO topic_state (topic, state, value, at) VALUES ($1, $2, $3, $4) ON CONFLICT (topic) DO UPDATE SET state = excluded.state, value = excluded.value, at = excluded.at`,
      [t.topic, t.state, t.value, t.at],
    );
  }
}
