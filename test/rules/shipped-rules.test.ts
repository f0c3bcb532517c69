import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AlarmEvent } from '../../src/parse/alarm-event.js';
import { isRuleFileName, loadRuleBook, loadRuleFile } from '../../src/rules/load-rules.js';
import { routeEvent } from '../../src/rules/router.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { alarmEvent, context, KNOWN, SATURDAY_NOON, TUESDAY_NIGHT, TUESDAY_NOON } from './rules-fixtures.js';

const RULES_DIR = join(REPO_ROOT, 'rules');
const shippedFiles = readdirSync(RULES_DIR).filter(isRuleFileName).sort();

describe('every rule file shipped in rules/', () => {
  it('ships the corpus rules and the night rule', () => {
    for (const name of ['00-night-oncall.yaml', 'ups.yaml', 'motors.yaml', 'boiler.yaml', 'cold-room.yaml']) assert.ok(shippedFiles.includes(name), name);
    // Anything else is documentation; a rule file with a typo in its extension would be silently ignored.
    for (const other of readdirSync(RULES_DIR).filter((n) => !isRuleFileName(n))) assert.match(other, /\.md$|^rules\.schema\.json$/, `${other} is neither a rule file, documentation nor the rule files' JSON Schema`);
  });

  for (const name of shippedFiles) {
    it(`${name} loads against the shipped receivers`, () => {
      const rules = loadRuleFile(join(RULES_DIR, name), KNOWN);
      assert.ok(rules.length > 0);
      for (const rule of rules) assert.ok(rule.description, `${rule.name} says what it is for`);
    });
  }

  it('all of them load together as one book', () => {
    const book = loadRuleBook(RULES_DIR, KNOWN);
    assert.deepEqual(book.files, shippedFiles.map((n) => join(RULES_DIR, n)));
  });
});

/** Events as parse/ builds them from the corpus mails (test/fixtures/corpus) and the shipped device map. */
const ups = (title: string, state: AlarmEvent['state'], code: string): AlarmEvent =>
  alarmEvent({
    device: { id: 'ups-hall2', name: 'UPS Hall 2', site: 'Plant North', area: 'Hall 2', matchedBy: 'sender' },
    sender: 'ups-hall2@plant.local',
    recipients: ['facility@example.com'],
    title,
    text: `Name     : UPS-HALL2\nLocation : Hall 2, electrical room\nCode     : ${code}\n\nUPS: ${title.replace('UPS-HALL2: ', '')}`,
    fields: { Name: 'UPS-HALL2', Location: 'Hall 2, electrical room', Code: code },
    key: 'ups-on-battery',
    code,
    state,
  });

const CORPUS: Record<string, AlarmEvent> = {
  'ups-on-battery.eml': ups('UPS-HALL2: On battery power in response to an input power problem.', 'active', '0x0109'),
  'ups-back-on-line.eml': ups('UPS-HALL2: No longer on battery power.', 'cleared', '0x010A'),
  's7-tmail-no-date.eml': alarmEvent({
    device: { id: 'plc-line4', name: 'plc-line4', matchedBy: 'sender' },
    sender: 'plc-line4@plant.local',
    recipients: ['maintenance@example.com'],
    title: 'ALARM Line4 Motor M12 overtemperature',
    text: 'Motor M12 winding temperature 142 C exceeds limit 130 C.\nStation: Line4 / Cabinet +A12',
    fields: { Station: 'Line4 / Cabinet +A12' },
  }),
  'encoded-word-qp.eml': alarmEvent({
    device: { id: 'hmi-kessel', name: 'Kesselhaus HMI', matchedBy: 'sender' },
    sender: 'hmi-kessel@plant.local',
    recipients: ['schicht@example.com'],
    title: 'Störung Kessel 1: Druck zu hoch',
    text: 'Kesseldruck 11,8 bar überschreitet Grenzwert 11,0 bar.\nAlarmklasse: A (kritisch)',
    fields: { Alarmklasse: 'A (kritisch)' },
  }),
  'latin1-raw-subject.eml': alarmEvent({
    device: { id: 'hmi-kessel', name: 'Kesselhaus HMI', matchedBy: 'sender' },
    sender: 'hmi-kessel@plant.local',
    recipients: ['schicht@example.com'],
    title: 'Störung Förderband 2 - Motorschutz ausgelöst',
    text: 'Störung seit 04:12, Quittierung erforderlich.',
  }),
  'datalogger-csv-attachment.eml': alarmEvent({
    device: { id: 'logger-cold-room', name: 'logger-cold-room', matchedBy: 'sender' },
    sender: 'logger-cold-room@plant.local',
    recipients: ['quality@example.com'],
    title: 'Cold room 3 temperature alarm',
    text: 'Cold room 3: temperature 9.4 C above upper limit 8.0 C for 15 min.',
    attachments: [{ index: 0, filename: 'cold-room-3.csv', contentType: 'text/csv', size: 52 }],
  }),
  'controllino-bare.eml': alarmEvent({
    device: { id: 'plc@plant.local', name: 'plc', matchedBy: 'fallback' },
    sender: 'plc@plant.local',
    recipients: ['alarms@example.com'],
    title: 'a Horse',
    text: 'The horse does not eat cucumber salad',
  }),
};

describe('the shipped rules route the corpus mails', () => {
  const book = loadRuleBook(RULES_DIR, KNOWN);
  const route = async (file: string, now = TUESDAY_NOON) => (await routeEvent(CORPUS[file]!, book, context({ now }))).route;
  const receiverNames = (r: { receivers: Array<{ name: string }> }) => r.receivers.map((x) => x.name);

  it('UPS on battery: facility team, major, told when it is over', async () => {
    const r = await route('ups-on-battery.eml');
    assert.deepEqual(r.rules, ['ups-on-battery']);
    assert.deepEqual(receiverNames(r), ['facility-team']);
    assert.equal(r.severity, 'major');
    assert.equal(r.notifyResolved, true);
    assert.equal(r.repeatInterval, 2 * 3_600_000);
  });

  it('UPS back on line: the same rule, so the clear reaches the same people', async () => {
    const r = await route('ups-back-on-line.eml');
    assert.deepEqual(r.rules, ['ups-on-battery']);
    assert.deepEqual(receiverNames(r), ['facility-team']);
  });

  it('UPS at 03:14 (as in the corpus): on-call added by the night rule, the rest from the UPS rule', async () => {
    const r = await route('ups-on-battery.eml', TUESDAY_NIGHT);
    assert.deepEqual(r.rules, ['night-and-weekend-oncall', 'ups-on-battery']);
    assert.deepEqual(receiverNames(r), ['oncall', 'facility-team']);
    assert.equal(r.severity, 'major');
  });

  it('on a Saturday afternoon the on-call engineer is told too', async () => {
    const r = await route('s7-tmail-no-date.eml', SATURDAY_NOON);
    assert.deepEqual(receiverNames(r), ['oncall', 'maintenance']);
  });

  it('S7 line 4 motor overtemperature: maintenance, critical', async () => {
    const r = await route('s7-tmail-no-date.eml');
    assert.deepEqual(r.rules, ['line4-motor-overtemperature']);
    assert.deepEqual(receiverNames(r), ['maintenance']);
    assert.equal(r.severity, 'critical');
  });

  it('Störung Kessel 1: shift team, critical', async () => {
    const r = await route('encoded-word-qp.eml');
    assert.deepEqual(r.rules, ['boiler-1-fault']);
    assert.deepEqual(receiverNames(r), ['shift-team']);
    assert.equal(r.severity, 'critical');
  });

  it('another Störung of the boiler house panel: shift team, major', async () => {
    const r = await route('latin1-raw-subject.eml');
    assert.deepEqual(r.rules, ['boiler-house-other-faults']);
    assert.equal(r.severity, 'major');
  });

  it('cold room logger: quality, major, with the original (its CSV) attached', async () => {
    const r = await route('datalogger-csv-attachment.eml');
    assert.deepEqual(r.rules, ['cold-room-temperature']);
    assert.deepEqual(receiverNames(r), ['quality']);
    assert.equal(r.severity, 'major');
    assert.equal(r.attachOriginal, true);
  });

  it('a device no rule knows takes the default route to its own recipients', async () => {
    const r = await route('controllino-bare.eml', TUESDAY_NIGHT);
    assert.equal(r.isDefault, true);
    assert.deepEqual(r.receivers, [{ name: 'alarms@example.com', emails: ['alarms@example.com'] }]);
  });
});
