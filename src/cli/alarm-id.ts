import type { Store } from '../store/store.js';

/** How many candidates an ambiguous id lists. */
const SHOWN = 10;

/**
 * The alarm an id typed on the command line means: the id itself, else the one alarm whose
 * id begins with it (ids are upper-case, so a prefix is looked up in upper case too). When
 * no alarm or several match, it says so on stderr, listing the candidates, and returns
 * undefined: exit 1, because whether a prefix is unique depends on the store, not on the
 * command line.
 */
export async function resolveAlarmId(store: Store, typed: string, command: string): Promise<string | undefined> {
  const text = typed.trim();
  if (text !== '' && (await store.alarms.get(text))) return text;
  const candidates = text === '' ? [] : await store.alarms.idsWithPrefix(text.toUpperCase(), SHOWN + 1);
  if (candidates.length === 1) return candidates[0];
  if (candidates.length === 0) {
    process.stderr.write(`annunciator ${command}: no alarm ${typed} (see annunciator alarms --all)\n`);
    return undefined;
  }
  const lines: string[] = [];
  for (const id of candidates.slice(0, SHOWN)) {
    const alarm = await store.alarms.get(id);
    lines.push(`  ${id}  ${alarm ? `${alarm.state}  ${alarm.device.name}  ${alarm.title}` : ''}`.trimEnd());
  }
  if (candidates.length > SHOWN) lines.push('  ...');
  process.stderr.write(`annunciator ${command}: alarm id ${typed} is ambiguous; it begins ${candidates.length > SHOWN ? `more than ${SHOWN}` : candidates.length} alarms:\n${lines.join('\n')}\ntype more of the id\n`);
  return undefined;
}
