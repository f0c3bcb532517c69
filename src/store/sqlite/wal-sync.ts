import { closeSync, fdatasync, fsyncSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { StoreError } from '../store-error.js';

/** Flushes a file's written data to the disk; the default runs `fdatasync` in libuv's thread pool. */
export type SyncFile = (fd: number) => Promise<void>;

const fdatasyncInPool: SyncFile = (fd) =>
  new Promise((resolve, reject) => {
    fdatasync(fd, (error) => (error ? reject(error) : resolve()));
  });

/**
 * Makes commits durable without blocking the event loop. The connection commits with
 * `synchronous = NORMAL`: SQLite writes the transaction's WAL frames (a kill -9 cannot lose
 * them, they are in the kernel) but does not fsync. A commit is durable against power loss
 * once the WAL file's data is on the disk, which this does with `fdatasync` in libuv's
 * thread pool while the loop goes on taking mail. Commits that land while a sync runs wait
 * for the next one, so one fsync covers every commit made before it started: the WAL is
 * only appended to until a checkpoint, and a checkpoint fsyncs the WAL before it copies
 * frames and the database before it lets the WAL be reused (SQLite, synchronous = NORMAL).
 */
export class WalSync {
  readonly #walFile: string;
  readonly #sync: SyncFile;
  #fd: number | undefined;
  #waiting: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  #syncing = false;
  /** fdatasync calls made, for tests and `store status`. */
  syncs = 0;

  constructor(walFile: string, sync: SyncFile = fdatasyncInPool) {
    this.#walFile = walFile;
    this.#sync = sync;
  }

  /** Resolves once everything committed before the call is on the disk; rejects with a StoreError fault when the flush fails. */
  afterCommit(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject });
      if (!this.#syncing) void this.drain();
    });
  }

  /** Whether a flush runs or commits wait for one. */
  get busy(): boolean {
    return this.#syncing || this.#waiting.length > 0;
  }

  /** Resolves when no flush runs or waits (before the descriptor is closed). */
  idle(): Promise<void> {
    return this.#drained;
  }

  #drained: Promise<void> = Promise.resolve();

  private drain(): Promise<void> {
    this.#drained = this.flushAll();
    return this.#drained;
  }

  private async flushAll(): Promise<void> {
    this.#syncing = true;
    try {
      while (this.#waiting.length > 0) {
        const batch = this.#waiting.splice(0);
        try {
          this.syncs += 1;
          await this.#sync(this.fd());
          for (const w of batch) w.resolve();
        } catch (error) {
          // After a failed fsync the kernel may have dropped the dirty pages: nothing written
          // before it can be promised, so every waiter hears it (451), never a 250.
          this.closeFd();
          const fault = new StoreError(`store: flushing the WAL to the disk failed: ${(error as Error).message}`, 'SQLITE_IOERR_FSYNC', { cause: error });
          for (const w of batch) w.reject(fault);
        }
      }
    } finally {
      this.#syncing = false;
    }
  }

  private fd(): number {
    if (this.#fd === undefined) {
      this.#fd = openSync(this.#walFile, 'r');
      // A WAL file created since the directory was last flushed must survive a power loss too.
      const directory = openSync(dirname(this.#walFile), 'r');
      try {
        fsyncSync(directory);
      } finally {
        closeSync(directory);
      }
    }
    return this.#fd;
  }

  private closeFd(): void {
    if (this.#fd === undefined) return;
    try {
      closeSync(this.#fd);
    } catch {
      // Closing a descriptor whose flush failed cannot make anything worse.
    }
    this.#fd = undefined;
  }

  close(): void {
    this.closeFd();
  }
}
