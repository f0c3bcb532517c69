import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ReceiverConfig, RouteDefaults } from '../../src/config/schema.js';
import type { AlarmEvent } from '../../src/parse/alarm-event.js';
import { parseRuleFile, type KnownNames } from '../../src/rules/load-rules.js';
import { RuleBook } from '../../src/rules/rule-book.js';
import type { RoutingContext } from '../../src/rules/router.js';
import { RulesError, type RuleProblem } from '../../src/rules/rules-error.js';

/** The receiver names the shipped configuration defines. */
export const RECEIVER_NAMES = ['facility-team', 'maintenance', 'shift-team', 'quality', 'oncall'];
export const KNOWN: KnownNames = { receivers: RECEIVER_NAMES };

export const RECEIVERS: ReceiverConfig[] = [
  { name: 'facility-team', email: 'facility@example.com', members: ['facility-lead'] },
  { name: 'facility-lead', email: 'lead@example.com' },
  { name: 'maintenance', email: 'maintenance@example.com' },
  { name: 'shift-team', email: ['schicht@example.com', 'leitstand@example.com'] },
  { name: 'quality', email: 'quality@example.com' },
  { name: 'oncall', email: 'oncall@example.com' },
];

export const DEFAULTS: RouteDefaults = {
  template: 'default',
  repeatInterval: 4 * 3_600_000,
  notifyResolved: true,
  attachOriginal: false,
  mode: 'notify',
  severity: 'warning',
};

export const TIME_ZONE = 'Europe/Berlin';
/** Tuesday 24 Nov 2026, 12:00 in Berlin (UTC+1): staffed hours. */
export const TUESDAY_NOON = Date.UTC(2026, 10, 24, 11, 0);
/** Tuesday 24 Nov 2026, 03:14 in Berlin: when the corpus UPS went on battery. */
export const TUESDAY_NIGHT = Date.UTC(2026, 10, 24, 2, 14, 7);
/** Saturday 28 Nov 2026, 12:00 in Berlin. */
export const SATURDAY_NOON = Date.UTC(2026, 10, 28, 11, 0);

export function context(overrides: Partial<RoutingContext> = {}): RoutingContext {
  return { now: TUESDAY_NOON, timeZone: TIME_ZONE, receivers: RECEIVERS, defaults: DEFAULTS, explain: true, ...overrides };
}

/** A plain AlarmEvent from an unknown device; override what the test is about. */
export function alarmEvent(overrides: Partial<AlarmEvent> = {}): AlarmEvent {
  return {
    id: 'EVT1',
    receivedAt: TUESDAY_NOON,
    source: 'smtp',
    listener: 'plant',
    device: { id: 'plc@plant.local', name: 'plc', matchedBy: 'fallback' },
    sender: 'plc@plant.local',
    recipients: ['alarms@example.com'],
    peer: { address: '192.0.2.10' },
    title: 'Test alarm',
    text: '',
    fields: {},
    state: 'active',
    attachments: [],
    patterns: [],
    ...overrides,
  };
}

/** A book from YAML text, validated against the shipped receiver names. */
export function bookFrom(yaml: string, known: KnownNames = KNOWN): RuleBook {
  return new RuleBook(parseRuleFile(yaml, 'test.yaml', known));
}

/** The problems `fn` throws as a RulesError; fails the test if it throws anything else or nothing. */
export function problemsOf(fn: () => unknown): RuleProblem[] {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof RulesError, `expected a RulesError, got ${String(error)}`);
    assert.equal(error.code, 'RULES_INVALID');
    return error.problems;
  }
  assert.fail('expected a RulesError, but the rules loaded');
}

export interface TempDir {
  dir: string;
  write(name: string, text: string): string;
  remove(): void;
}

export function tempDir(): TempDir {
  const dir = mkdtempSync(join(tmpdir(), 'annunciator-rules-'));
  return {
    dir,
    write(name, text) {
      const file = join(dir, name);
      writeFileSync(file, text);
      return file;
    },
    remove() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
