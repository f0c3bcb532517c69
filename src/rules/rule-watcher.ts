import { statSync, watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import { Debounce } from '../base/debounce.js';
import { isRuleFileName, loadRuleBook, type KnownNames } from './load-rules.js';
import type { RuleBook } from './rule-book.js';
import { RulesError } from './rules-error.js';

export type ReloadResult = { ok: true; rules: number } | { ok: false; error: RulesError };

export interface RuleBookHolderOptions {
  /** Quiet time after the last file event before reloading: an editor's save is several events. */
  debounceMs?: number;
}

/**
 * The rule book in force, and the one way to replace it: reload(), called on SIGHUP by
 * the gateway and on file changes by watch(). A reload that finds any problem changes
 * nothing — the rules in force stay, and the error says why the new ones were refused.
 */
export class RuleBookHolder {
  #book: RuleBook;
  #watcher: FSWatcher | undefined;
  /** Whether #watcher watches the rules directory itself or, while it is missing, its parent. */
  #watching: 'dir' | 'parent' | undefined;
  readonly #debounce: Debounce;
  #onReload: ((result: ReloadResult) => void) | undefined;

  /** Loads the rules now; throws RulesError when they are invalid (a gateway should not start on them). */
  constructor(
    readonly dir: string,
    private readonly known: KnownNames | (() => KnownNames),
    options: RuleBookHolderOptions = {},
  ) {
    this.#debounce = new Debounce(options.debounceMs ?? 200, () => this.#fire());
    this.#book = loadRuleBook(dir, this.#knownNames());
  }

  get book(): RuleBook {
    return this.#book;
  }

  #knownNames(): KnownNames {
    return typeof this.known === 'function' ? this.known() : this.known;
  }

  reload(): ReloadResult {
    try {
      this.#book = loadRuleBook(this.dir, this.#knownNames());
      return { ok: true, rules: this.#book.rules.length };
    } catch (error) {
      if (error instanceof RulesError) return { ok: false, error };
      throw error;
    }
  }

  /**
   * Reloads when a rule file in the directory changes, calling `onReload` with the
   * outcome. A missing directory is watched for from its parent, so creating it later
   * brings its rules in. Watching is best effort (some file systems report nothing);
   * SIGHUP always works.
   */
  watch(onReload: (result: ReloadResult) => void): void {
    this.stopWatching();
    this.#onReload = onReload;
    this.#arm();
  }

  stopWatching(): void {
    this.#debounce.cancel();
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#watching = undefined;
    this.#onReload = undefined;
  }

  #arm(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
    this.#watching = undefined;
    const dirName = basename(this.dir);
    const attempts: Array<{ target: 'dir' | 'parent'; path: string; relevant: (file: string | null) => boolean }> = [
      // Some platforms give no file name; then any event may concern a rule file.
      { target: 'dir', path: this.dir, relevant: (file) => file === null || isRuleFileName(file) },
      { target: 'parent', path: dirname(this.dir), relevant: (file) => file === null || file === dirName },
    ];
    for (const attempt of attempts) {
      try {
        const watcher = watch(attempt.path, (_event, file) => {
          if (attempt.relevant(file === null ? null : String(file))) this.#schedule();
        });
        // An unhandled 'error' (e.g. the directory was removed) would crash the gateway.
        watcher.on('error', () => {
          this.#watching = undefined; // dead now: the next reload arms a new one
          this.#schedule();
        });
        this.#watcher = watcher;
        this.#watching = attempt.target;
        return;
      } catch {
        // Not there (yet): try the parent, or give up watching and rely on SIGHUP.
      }
    }
  }

  #schedule(): void {
    if (this.#onReload) this.#debounce.trigger();
  }

  #fire(): void {
    const onReload = this.#onReload;
    if (!onReload) return;
    // The directory appeared or vanished: watch what now exists, before reading it,
    // so a file written in between is either read now or reported by the new watcher.
    if (this.#watching !== this.#wanted()) this.#arm();
    onReload(this.reload());
  }

  #wanted(): 'dir' | 'parent' {
    try {
      return statSync(this.dir, { throwIfNoEntry: false })?.isDirectory() ? 'dir' : 'parent';
    } catch {
      return 'parent';
    }
  }
}
