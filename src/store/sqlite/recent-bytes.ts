/** What the inbox and the outbox each keep: 80 mails of 100 KiB, more than a burst leaves waiting. */
export const RECENT_BYTES_PER_TABLE = 8 * 1024 * 1024;

/**
 * Large values (a mail's raw bytes, a notification) kept in memory from the transaction that
 * wrote them until the one read that follows: the inbox runner reads a mail back
 * milliseconds after its accept wrote it, the outbox worker a message after the pipeline
 * queued it. Read from the file, each is an overflow chain walked and copied into a new
 * Buffer; for a 100 KiB relayed mail the two reads were ~8 % of the main thread's time.
 *
 * Only what a commit made durable is kept (stage, then committed or discarded with the
 * transaction). The rows hold the same bytes, which are never changed after the insert, so
 * a value evicted or never kept is read from the file as before. Bounded by bytes; the
 * oldest go first.
 */
export class RecentBytes {
  readonly #kept = new Map<string, Buffer>();
  #staged: Array<[string, Buffer]> = [];
  #size = 0;

  constructor(private readonly budget: number) {}

  /** Written by the transaction under way: kept once it commits. */
  stage(id: string, bytes: Buffer): void {
    if (bytes.length <= this.budget) this.#staged.push([id, bytes]);
  }

  committed(): void {
    if (this.#staged.length === 0) return;
    for (const [id, bytes] of this.#staged) {
      this.#forget(id);
      this.#kept.set(id, bytes);
      this.#size += bytes.length;
    }
    this.#staged = [];
    for (const [id] of this.#kept) {
      if (this.#size <= this.budget) break;
      this.#forget(id);
    }
  }

  discarded(): void {
    this.#staged = [];
  }

  /** The bytes, handed out once: a second read (a retry) goes to the file. */
  take(id: string): Buffer | undefined {
    const bytes = this.#kept.get(id);
    if (bytes) this.#forget(id);
    return bytes;
  }

  get size(): number {
    return this.#size;
  }

  #forget(id: string): void {
    const bytes = this.#kept.get(id);
    if (!bytes) return;
    this.#kept.delete(id);
    this.#size -= bytes.length;
  }
}
