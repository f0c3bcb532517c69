import { accessSync, constants, statSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Clock, TimerHandle } from '../../base/clock.js';
import type { Logger } from '../../log/logger.js';
import { StoreError } from '../store-error.js';
import type { StoreHealth } from '../store.js';

export interface FileHealthOptions {
  clock: Clock;
  /** Where the changes of state are logged, one line each. */
  logger?: Logger;
  /** How often the file is looked at, and how long a verdict is trusted (ms). */
  interval: number;
  /**
   * Whether a write that grows the file could succeed now (space on the disk, SQLite's page
   * limit): asked while the store is full, to say when it is not any more.
   */
  roomToGrow: () => boolean;
}

interface Fault {
  kind: 'deleted' | 'replaced' | 'read-only' | 'directory-read-only' | 'unreachable' | 'full' | 'io-error';
  code: string;
  message: string;
  since: number;
  needsRestart: boolean;
}

/**
 * Watches the one SQLite file under a running gateway: that the path still names the
 * file the connection has open (same device and inode), and that it is writable.
 *
 * - Deleted or replaced: the connection would go on writing into a file nobody reads
 *   again, so every accept and transaction is refused (451 to devices) until an operator
 *   restarts the gateway.
 * - Read-only (no write bit on the file, or the directory not writable): refused until it
 *   is writable again, then work resumes by itself. Mode bits count, not only access(2):
 *   the gateway may run as root, for which every file is writable.
 * - Errors SQLite reports: SQLITE_FULL is recorded (health, one log line) but refuses
 *   nothing, for writes that need no new space still work; it clears when accepted mail
 *   commits again or the disk has room. SQLITE_IOERR, SQLITE_READONLY and SQLITE_CANTOPEN
 *   refuse everything for one interval, then let work try again; a write that commits
 *   clears them.
 *
 * The file is looked at every `interval` ms on the injected clock (the timer never keeps
 * the process alive), before a commit when the last look is older than that, and without
 * delay after each commit of accepted mail, before its 250 (`confirmIdentity`).
 */
export class FileHealth {
  readonly #file: string;
  readonly #dir: string;
  readonly #identity: { dev: number; ino: number };
  readonly #options: FileHealthOptions;
  #fileFault: Fault | undefined;
  #errorFault: (Fault & { retryAt: number }) | undefined;
  #lookedAt = Number.NEGATIVE_INFINITY;
  #timer: TimerHandle | undefined;
  /** The state last logged: a fault's kind and code, or `ok`. */
  #reported = 'ok';
  #closed = false;

  constructor(file: string, options: FileHealthOptions) {
    this.#file = file;
    this.#dir = dirname(file);
    this.#options = options;
    const stats = statSync(file);
    this.#identity = { dev: stats.dev, ino: stats.ino };
    this.#lookedAt = options.clock.now();
    this.schedule();
  }

  health(): StoreHealth {
    this.look(false);
    const fault = this.#fileFault ?? this.#errorFault;
    if (!fault) return { ok: true };
    return { ok: false, reason: fault.message, code: fault.code, since: fault.since, needsRestart: fault.needsRestart };
  }

  /** Before a transaction or a commit of accepted mail: the error to refuse it with, if any. */
  refusal(): StoreError | undefined {
    this.look(false);
    const fault = this.#fileFault ?? (this.#errorFault && this.#errorFault.kind !== 'full' && this.#options.clock.now() < this.#errorFault.retryAt ? this.#errorFault : undefined);
    return fault ? new StoreError(fault.message, fault.code) : undefined;
  }

  /**
   * After accepted mail was committed, before it is acknowledged: whether the path still
   * names the file it was written to. When not, the mail is in a file nobody reads again
   * and must get 451, not 250.
   */
  confirmIdentity(): StoreError | undefined {
    this.look(true);
    const fault = this.#fileFault;
    return fault?.needsRestart ? new StoreError(fault.message, fault.code) : undefined;
  }

  /** A transaction or commit failed: a fault of the store itself changes the verdict. */
  failed(error: unknown): void {
    if (!(error instanceof StoreError)) return;
    const kind = errorKind(error.code);
    if (!kind) return;
    const now = this.#options.clock.now();
    const retryAt = now + this.#options.interval;
    if (this.#errorFault?.kind === kind) {
      this.#errorFault.retryAt = retryAt;
    } else {
      const message =
        kind === 'full'
          ? `store ${this.#file}: database or disk is full (${error.code}); devices get 451 and work is retried until space is freed, then resumes by itself`
          : `store ${this.#file}: ${stripPrefix(error.message)} (${error.code}); devices get 451 and work is retried, and resumes by itself once the store works again`;
      this.#errorFault = { kind, code: error.code, message, since: now, needsRestart: false, retryAt };
    }
    // A write that fails may be the first sign of the file being gone or read-only.
    this.look(true);
    this.report();
  }

  /** A transaction committed; `wrote` when it changed rows, `accepted` when it was accepted mail. */
  committed(wrote: boolean, accepted: boolean): void {
    const fault = this.#errorFault;
    if (!fault) return;
    if (fault.kind === 'full' ? !accepted : !wrote) return;
    this.#errorFault = undefined;
    this.report();
  }

  /** Whether a commit should tell `committed` if it wrote (only worth asking while an error fault stands). */
  get watchingWrites(): boolean {
    return this.#errorFault !== undefined;
  }

  close(): void {
    this.#closed = true;
    this.#timer?.cancel();
  }

  private schedule(): void {
    if (this.#closed) return;
    this.#timer = this.#options.clock.setTimer(() => {
      this.tick();
      this.schedule();
    }, this.#options.interval);
  }

  private tick(): void {
    this.look(true);
    const fault = this.#errorFault;
    if (fault?.kind === 'full' && this.#options.clock.now() >= fault.retryAt && this.roomToGrow()) {
      this.#errorFault = undefined;
      this.report();
    }
  }

  private roomToGrow(): boolean {
    try {
      return this.#options.roomToGrow();
    } catch {
      return false;
    }
  }

  /** Looks at the file when the last look is older than the interval (or `force`). */
  private look(force: boolean): void {
    const now = this.#options.clock.now();
    if (!force && now - this.#lookedAt < this.#options.interval) return;
    this.#lookedAt = now;
    const found = this.examine();
    if (found?.kind !== this.#fileFault?.kind) this.#fileFault = found ? { ...found, since: now } : undefined;
    this.report();
  }

  private examine(): Omit<Fault, 'since'> | undefined {
    const file = this.#file;
    let stats;
    try {
      stats = statSync(file);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        return {
          kind: 'deleted',
          code: 'SQLITE_READONLY_DBMOVED',
          message: `store file ${file} was deleted; refusing to accept mail into a file that will not be read again. Restart the gateway to open a new store (what the deleted file held is lost)`,
          needsRestart: true,
        };
      }
      return {
        kind: 'unreachable',
        code: 'SQLITE_IOERR',
        message: `store file ${file} cannot be looked at (${code ?? String(error)}); refusing to accept mail until it can, then resuming by itself`,
        needsRestart: false,
      };
    }
    if (stats.dev !== this.#identity.dev || stats.ino !== this.#identity.ino) {
      return {
        kind: 'replaced',
        code: 'SQLITE_READONLY_DBMOVED',
        message: `store file ${file} was replaced by another file; refusing to accept mail into a file that will not be read again. Restart the gateway to open the file now at that path`,
        needsRestart: true,
      };
    }
    if ((stats.mode & 0o222) === 0 || !writable(file)) {
      return {
        kind: 'read-only',
        code: 'SQLITE_READONLY',
        message: `store file ${file} was made read-only; refusing to accept mail until it is writable again, then resuming by itself`,
        needsRestart: false,
      };
    }
    if (!writable(this.#dir)) {
      return {
        kind: 'directory-read-only',
        code: 'SQLITE_READONLY_DIRECTORY',
        message: `store directory ${this.#dir} was made read-only; refusing to accept mail until it is writable again, then resuming by itself`,
        needsRestart: false,
      };
    }
    return undefined;
  }

  /** One log line per change of state: the fault in force (the file's before SQLite's), or healthy again. */
  private report(): void {
    const fault = this.#fileFault ?? this.#errorFault;
    const state = fault ? `${fault.kind}:${fault.code}` : 'ok';
    if (state === this.#reported) return;
    const before = this.#reported;
    this.#reported = state;
    const logger = this.#options.logger;
    if (fault) logger?.error({ store: this.#file, fault: fault.kind, code: fault.code, needsRestart: fault.needsRestart }, fault.message);
    else logger?.warn({ store: this.#file, after: before.split(':')[0] }, `store ${this.#file} is healthy again: accepting mail and resuming work`);
  }
}

function errorKind(code: string): Fault['kind'] | undefined {
  const is = (base: string): boolean => code === base || code.startsWith(`${base}_`);
  if (is('SQLITE_FULL')) return 'full';
  if (is('SQLITE_IOERR') || is('SQLITE_READONLY') || is('SQLITE_CANTOPEN')) return 'io-error';
  return undefined;
}

function stripPrefix(message: string): string {
  return message.replace(/^store: /, '');
}

function writable(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}
