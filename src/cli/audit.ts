import type { AuditQuery } from '../store/store.js';
import { usageError } from './exit-codes.js';
import { withStore } from './load-config-or-report.js';
import { displayZone, printJson, showTime } from './output.js';
import { printTable } from './table.js';

export interface AuditOptions {
  action?: string;
  actor?: string;
  target?: string;
  limit?: string;
  before?: string;
  json?: boolean;
}

/**
 * `annunciator audit`: who did what, when and from where (acknowledgements, silences, queue
 * actions, reloads, logins), newest first, read from the store as `GET /api/v1/audit` reads it.
 */
export function auditCommand(configFile: string, options: AuditOptions): Promise<number> {
  const limit = options.limit === undefined ? 50 : Number(options.limit);
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > 10_000) return Promise.resolve(usageError('audit', `--limit ${options.limit}: a whole number from 1 to 10000`));
  const before = options.before === undefined ? undefined : Number(options.before);
  if (before !== undefined && (!Number.isSafeInteger(before) || before < 1)) return Promise.resolve(usageError('audit', `--before ${options.before}: an entry id (a whole number)`));
  const query: AuditQuery = { limit, ...(before !== undefined ? { beforeId: before } : {}), ...(options.action ? { action: options.action } : {}), ...(options.actor ? { actor: options.actor } : {}), ...(options.target ? { target: options.target } : {}) };
  return withStore(configFile, async (store, config) => {
    const entries = await store.audit.list(query);
    if (options.json) {
      printJson(entries);
      return 0;
    }
    if (entries.length === 0) {
      process.stdout.write(options.action || options.actor || options.target || before !== undefined ? 'no audit entries match\n' : 'the audit log is empty\n');
      return 0;
    }
    const zone = displayZone(config);
    printTable(
      ['ID', 'TIME', 'ACTOR', 'VIA', 'FROM', 'ACTION', 'TARGET', 'DETAIL'],
      entries.map((e) => [String(e.id), showTime(e.at, zone), e.actor, e.via, e.peer ?? '-', e.action, e.target ?? '-', e.detail ? detailText(e.detail) : '']),
    );
    if (entries.length === limit) process.stdout.write(`(older entries: --before ${entries[entries.length - 1]!.id})\n`);
    return 0;
  });
}

/** `comment=motor service matchers=device.id=plc-line4`: a detail object on one line. */
function detailText(detail: Record<string, unknown>): string {
  return Object.entries(detail)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
}
