import type { TopicState } from '../../parse/mqtt-event.js';
import type { TopicRepository } from '../store.js';
import type { Db } from './db.js';

export class SqliteTopics implements TopicRepository {
  constructor(private readonly db: Db) {}

  async get(topic: string): Promise<TopicState | undefined> {
    const row = this.db.get<TopicState>(`SELECT topic, state, value, at FROM topic_state WHERE topic = ?`, topic);
    return row ? { ...row } : undefined;
  }

  async save(t: TopicState): Promise<void> {
    this.db.run(
      `INSERT INTO topic_state (topic, state, value, at) VALUES (?, ?, ?, ?) ON CONFLICT(topic) DO UPDATE SET state = excluded.state, value = excluded.value, at = excluded.at`,
      t.topic,
      t.state,
      t.value,
      t.at,
    );
  }
}
