import { formatZoned } from '../base/zoned-clock.js';
import type { GatewayConfig } from '../config/types.js';
import { describeMatchers, describeSchedule, silenceHolds, silenceHoldsUntil, type Silence } from '../lifecycle/silence.js';
import { activeAlarmsMatching, addSilence, buildSilence as buildShared, CLI_SILENCE_NAMES, expireSilenceBy, silenceState, silenceZone, type SilenceState } from '../pipeline/silences.js';
import { cliActor } from './cli-actor.js';
import { usageError } from './exit-codes.js';
import { withStore } from './load-config-or-report.js';
import { printJson } from './output.js';
import { userName } from './user-name.js';
import { printTable } from './table.js';

export interface SilenceAddOptions {
  match?: string[];
  from?: string;
  until?: string;
  for?: string;
  weekly?: string;
  zone?: string;
  by?: string;
  comment?: string;
  json?: boolean;
}

function fail(message: string): number {
  return usageError('silence add', message);
}

/**
 * `annunciator silence add`: writes the silence into the store. The gateway reads
 * silences from the store for every decision, so it takes effect without a restart.
 */
export function silenceAddCommand(configFile: string, options: SilenceAddOptions): Promise<number> {
  return withStore(configFile, async (store, config) => {
    const now = Date.now();
    const built = buildSilence(options, config, now);
    if (typeof built === 'string') return fail(built);
    await store.transaction((tx) => addSilence(tx, built, cliActor()));
    const matching = (await activeAlarmsMatching(store, built.matchers)).length;
    if (options.json) {
      printJson({ silence: built, matchingActiveAlarms: matching });
      return 0;
    }
    const zone = zoneOf(options, config);
    const holds = silenceHolds(built, now);
    const until = silenceHoldsUntil(built, now);
    process.stdout.write(
      [
        `silence ${built.id} added`,
        `  mutes      ${describeMatchers(built)}`,
        `  when       ${describeSchedule(built, zone)}`,
        `  now        ${holds ? `holding${until !== undefined ? ` until ${formatZoned(until, zone)}` : ''}` : 'not yet holding'}`,
        `  matches    ${matching} active alarm(s) now (already notified ones are not told again; new notifications are muted)`,
        '',
      ].join('\n'),
    );
    return 0;
  });
}

function zoneOf(options: SilenceAddOptions, config: GatewayConfig): string {
  return silenceZone(options.zone, config);
}

/** The silence the options describe, or what is wrong with them (pipeline/silences.ts reads them, as it does the API's). */
export function buildSilence(options: SilenceAddOptions, config: GatewayConfig, now: number): Silence | string {
  const { match, by, json: _json, ...rest } = options;
  return buildShared({ ...rest, matchers: match ?? [], createdBy: by?.trim() || userName('unknown') }, CLI_SILENCE_NAMES, config, now);
}

export { silenceState, type SilenceState };

/** `annunciator silence list [--all]`: silences that hold or are to come; --all adds expired and ended ones. */
export function silenceListCommand(configFile: string, options: { all?: boolean; json?: boolean }): Promise<number> {
  return withStore(configFile, async (store, config) => {
    const now = Date.now();
    const silences = await store.silences.list(now, { all: options.all });
    if (options.json) {
      printJson(silences.map((s) => ({ ...s, state: silenceState(s, now) })));
      return 0;
    }
    if (silences.length === 0) {
      process.stdout.write(options.all ? 'no silences\n' : 'no current silences\n');
      return 0;
    }
    const zone = config.alarms?.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone;
    printTable(
      ['ID', 'STATE', 'MATCHERS', 'WHEN', 'UNTIL', 'BY', 'COMMENT'],
      silences.map((s) => {
        const until = silenceHoldsUntil(s, now);
        return [s.id, silenceState(s, now), describeMatchers(s), describeSchedule(s, zone), until !== undefined ? formatZoned(until, zone) : '-', s.createdBy, s.comment];
      }),
    );
    return 0;
  });
}

/**
 * `annunciator silence expire ID... [--json]`: ends silences now; alarms they muted that are
 * still active are then notified by the gateway. --json: `{ results: [...] }`, one per id in
 * order, `outcome` expired, already-over or not-found (the last also on stderr, exit 1).
 */
export function silenceExpireCommand(configFile: string, ids: string[], options: { json?: boolean } = {}): Promise<number> {
  return withStore(configFile, async (store) => {
    const now = Date.now();
    let code = 0;
    const results: ExpireResult[] = [];
    for (const id of ids) {
      const result = await store.transaction((tx) => expireSilenceBy(tx, id, now, cliActor()));
      if (result.outcome === 'unknown') {
        process.stderr.write(`annunciator silence expire: no silence ${id}\n`);
        results.push({ id, outcome: 'not-found' });
        code = 1;
        continue;
      }
      const silence = { ...result.silence, state: silenceState(result.silence, now) };
      if (result.outcome === 'already-over') {
        results.push({ id, outcome: 'already-over', silence });
        if (!options.json) process.stdout.write(`silence ${id} had already ${silence.state}\n`);
        continue;
      }
      results.push({ id, outcome: 'expired', silence, releasedAlarms: result.released });
      if (!options.json) process.stdout.write(`silence ${id} expired; alarms it muted that are still active will be notified\n`);
    }
    if (options.json) printJson({ results });
    return code;
  });
}

/** One id of `silence expire --json`; `releasedAlarms`: the still active alarms it muted, to be notified now. */
type ExpireResult =
  | { id: string; outcome: 'not-found' }
  | { id: string; outcome: 'already-over'; silence: Silence & { state: SilenceState } }
  | { id: string; outcome: 'expired'; silence: Silence & { state: SilenceState }; releasedAlarms: number };
