import { Worker } from 'node:worker_threads';
import type { Logger } from '../../log/logger.js';
import { isSqliteExperimentalWarning, readWriteUri, sqliteCodeName, type SqliteConnection } from './connection.js';

/** SQLite's own default, restored when the thread is gone. */
const AUTOCHECKPOINT_PAGES = 1000;

export interface BackgroundCheckpointOptions {
  /** How often the thread copies what the WAL holds into the database (ms). */
  interval?: number;
  logger?: Logger;
}

/**
 * Checkpoints the WAL from a thread of its own. Left to SQLite, the commit that crosses
 * 1,000 WAL pages copies them into the database and fsyncs twice, on the event loop: with
 * 100 KiB mails that was every few dozen messages, each time stalling every SMTP session.
 * The thread runs PASSIVE checkpoints, which never block the writer; should it end, the
 * connection checkpoints by itself again.
 */
export class BackgroundCheckpoints {
  readonly #worker: Worker;
  readonly #connection: SqliteConnection;
  readonly #logger: Logger | undefined;
  #exited: Promise<void>;
  #closing = false;
  #lastError: string | undefined;

  constructor(file: string, connection: SqliteConnection, options: BackgroundCheckpointOptions = {}) {
    this.#connection = connection;
    this.#logger = options.logger;
    this.#worker = new Worker(THREAD, { eval: true, workerData: { uri: readWriteUri(file), interval: options.interval ?? 100 }, resourceLimits: { maxYoungGenerationSizeMb: 2 } });
    this.#worker.unref();
    connection.pragma('wal_autocheckpoint = 0');
    this.#worker.on('message', (message: { type: 'error'; message: string; errcode?: number }) => {
      // One line per different error, not one every interval while the disk stays full.
      if (message.message === this.#lastError) return;
      this.#lastError = message.message;
      this.#logger?.warn({ code: message.errcode === undefined ? undefined : sqliteCodeName(message.errcode) }, `store: background checkpoint failed (${message.message}); retrying`);
    });
    this.#exited = new Promise((resolve) => {
      this.#worker.once('exit', () => {
        if (!this.#closing && this.#connection.open) {
          this.#connection.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT_PAGES}`);
          this.#logger?.warn('store: the checkpoint thread ended; the connection checkpoints by itself again');
        }
        resolve();
      });
    });
    this.#worker.on('error', (error) => this.#logger?.warn({ err: error }, 'store: the checkpoint thread failed'));
  }

  /** Stops the thread after a last checkpoint; the connection's own close does the final one. */
  async close(): Promise<void> {
    this.#closing = true;
    // Unref'd so that it never keeps the process alive; waiting for its exit must, though.
    this.#worker.ref();
    this.#worker.postMessage('close');
    await this.#exited;
  }

  /** For tests: ends the thread as a crash would. */
  async killForTest(): Promise<void> {
    await this.#worker.terminate();
    await this.#exited;
  }
}

// Plain CommonJS run with `eval`: nothing to compile, so it works from dist/ and under tsx alike.
// The thread loads node:sqlite itself (connection.ts's loader is ESM), so it drops the same
// ExperimentalWarning itself, with the same test.
const THREAD = `
const { parentPort, workerData } = require('node:worker_threads');
const isSqliteExperimentalWarning = ${isSqliteExperimentalWarning.toString()};
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  if (!isSqliteExperimentalWarning(warning, rest[0])) emitWarning.call(this, warning, ...rest);
};
const { DatabaseSync } = require('node:sqlite');
process.emitWarning = emitWarning;
// readWriteUri: never creates the file; the store opened it before starting the thread.
const db = new DatabaseSync(workerData.uri, { timeout: 1000 });
db.exec('PRAGMA synchronous = NORMAL');
const checkpoint = () => {
  try {
    db.exec('PRAGMA wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort.postMessage({ type: 'error', message: error.message, errcode: error.errcode });
  }
};
const timer = setInterval(checkpoint, workerData.interval);
parentPort.on('message', (message) => {
  if (message !== 'close') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;
