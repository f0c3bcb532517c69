import type { Store } from '../store/store.js';

/** How many candidates an ambiguous id lists. */
const SHOWN = 10;

/** What an id typed on the command line names, and how candidates are looked up and told. */
interface IdKind {
  /** "alarm", "outbox entry": in the messages. */
  noun: string;
  /** "alarms", "entries": what an ambiguous id begins. */
  plural: string;
  /** Where the ids are listed ("annunciator alarms --all"). */
  seeAlso: string;
  exists(id: string): Promise<boolean>;
  idsWithPrefix(prefix: string, limit: number): Promise<string[]>;
  /** One line about a candidate of an ambiguous id, after the id. */
  describe(id: string): Promise<string>;
}

/**
 * The id a string typed on the command line means: the id itself, else the one id that
 * begins with it (ids are upper-case, so a prefix is looked up in upper case too). When none
 * or several match, it says so on stderr, listing the candidates, and returns undefined:
 * exit 1, because whether a prefix is unique depends on the store, not on the command line.
 */
async function resolveId(kind: IdKind, typed: string, command: string): Promise<string | undefined> {
  const text = typed.trim();
  if (text !== '' && (await kind.exists(text))) return text;
  const candidates = text === '' ? [] : await kind.idsWithPrefix(text.toUpperCase(), SHOWN + 1);
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) {
    process.stderr.write(`annunciator ${command}: no ${kind.noun} ${typed} (see ${kind.seeAlso})\n`);
    return undefined;
  }
  const lines: string[] = [];
  for (const id of candidates.slice(0, SHOWN)) lines.push(`  ${id}  ${await kind.describe(id)}`.trimEnd());
  if (candidates.length > SHOWN) lines.push('  ...');
  const many = candidates.length > SHOWN ? `more than ${SHOWN}` : String(candidates.length);
  process.stderr.write(`annunciator ${command}: ${kind.noun} id ${typed} is ambiguous; it begins ${many} ${kind.plural}:\n${lines.join('\n')}\ntype more of the id\n`);
  return undefined;
}

/** The alarm an id typed on the command line means (resolveId). */
export function resolveAlarmId(store: Store, typed: string, command: string): Promise<string | undefined> {
  return resolveId(
    {
      noun: 'alarm',
      plural: 'alarms',
      seeAlso: 'annunciator alarms --all',
      exists: async (id) => (await store.alarms.get(id)) !== undefined,
      idsWithPrefix: (prefix, limit) => store.alarms.idsWithPrefix(prefix, limit),
      describe: async (id) => {
        const alarm = await store.alarms.get(id);
        return alarm ? `${alarm.state}  ${alarm.device.name}  ${alarm.title}` : '';
      },
    },
    typed,
    command,
  );
}

/** The outbox entry an id typed on the command line means (resolveId). */
export function resolveOutboxId(store: Store, typed: string, command: string): Promise<string | undefined> {
  return resolveId(
    {
      noun: 'outbox entry',
      plural: 'entries',
      seeAlso: 'annunciator queue --all',
      exists: async (id) => (await store.outbox.get(id)) !== undefined,
      idsWithPrefix: (prefix, limit) => store.outbox.idsWithPrefix(prefix, limit),
      describe: async (id) => {
        const entry = await store.outbox.get(id);
        return entry ? `${entry.status}  ${entry.recipients.join(',')}` : '';
      },
    },
    typed,
    command,
  );
}
