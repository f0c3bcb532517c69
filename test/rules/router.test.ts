import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { ReceiverConfig } from '../../src/config/schema.js';
import { resolveReceivers } from '../../src/rules/receivers.js';
import { RuleBook } from '../../src/rules/rule-book.js';
import { parseRuleFile } from '../../src/rules/load-rules.js';
import { routeEvent } from '../../src/rules/router.js';
import { alarmEvent, bookFrom, context, DEFAULTS, RECEIVERS } from './rules-fixtures.js';

const rule = (name: string, when: string, then: string): string => `  - name: ${name}\n    when: ${when}\n    then: ${then}\n`;
const rules = (...items: string[]): string => `rules:\n${items.join('')}`;
const ALWAYS = '{ all: [] }';

describe('routeEvent: which rules apply', () => {
  it('the first matching rule wins; later matches are recorded as matched, not applied', async () => {
    const book = bookFrom(
      rules(
        rule('never', '{ fact: title, operator: equal, value: nothing }', '{ receivers: [oncall] }'),
        rule('first', '{ fact: title, operator: startsWith, value: Test }', '{ receivers: [maintenance], severity: critical }'),
        rule('second', ALWAYS, '{ receivers: [quality], severity: info }'),
      ),
    );
    const { route, verdicts } = await routeEvent(alarmEvent(), book, context());
    assert.deepEqual(route.rules, ['first']);
    assert.equal(route.isDefault, false);
    assert.deepEqual(route.receivers, [{ name: 'maintenance', emails: ['maintenance@example.com'] }]);
    assert.equal(route.severity, 'critical');
    assert.deepEqual(
      verdicts.map((v) => [v.rule, v.file, v.matched, v.applied]),
      [
        ['never', 'test.yaml', false, false],
        ['first', 'test.yaml', true, true],
        ['second', 'test.yaml', true, false],
      ],
    );
  });

  it('continue: receivers are united in order and unset keys filled; the walk ends at a rule without continue', async () => {
    const book = bookFrom(
      rules(
        rule('night', ALWAYS, '{ receivers: [oncall], continue: true }'),
        rule('no-match', '{ fact: title, operator: equal, value: other }', '{ receivers: [quality] }'),
        rule('ups', ALWAYS, '{ receivers: [facility-team, oncall], severity: major, template: ups, repeatInterval: 2h, notifyResolved: false, continue: true }'),
        rule('fill', ALWAYS, '{ receivers: [maintenance], severity: info, template: other, attachOriginal: true, mode: passthrough }'),
        rule('after-stop', ALWAYS, '{ receivers: [shift-team], suppress: true }'),
      ),
    );
    const { route, verdicts } = await routeEvent(alarmEvent(), book, context());
    assert.deepEqual(route.rules, ['night', 'ups', 'fill']);
    assert.deepEqual(route.receivers.map((r) => r.name), ['oncall', 'facility-team', 'maintenance']);
    assert.deepEqual(route.receivers[1], { name: 'facility-team', emails: ['facility@example.com', 'lead@example.com'] });
    assert.equal(route.severity, 'major', 'set by ups, not overwritten by fill');
    assert.equal(route.template, 'ups');
    assert.equal(route.repeatInterval, 2 * 3_600_000);
    assert.equal(route.notifyResolved, false);
    assert.equal(route.attachOriginal, true, 'unset by earlier rules, filled by fill');
    assert.equal(route.mode, 'passthrough');
    assert.equal(route.suppressedBy, undefined, 'after-stop matched but was not applied');
    assert.deepEqual(verdicts.map((v) => v.applied), [true, false, true, true, false]);
    assert.deepEqual(verdicts.map((v) => v.matched), [true, false, true, true, true]);
  });

  it('a continue rule whose successors do not match routes on its own, defaults filling the rest', async () => {
    const book = bookFrom(rules(rule('only', ALWAYS, '{ receivers: [quality], continue: true }'), rule('no', '{ fact: state, operator: equal, value: cleared }', '{ severity: info }')));
    const { route } = await routeEvent(alarmEvent(), book, context());
    assert.deepEqual(route.rules, ['only']);
    assert.equal(route.template, DEFAULTS.template);
    assert.equal(route.repeatInterval, DEFAULTS.repeatInterval);
  });

  it('with no rule applied: the default route to the envelope recipients, or to defaults.receivers', async () => {
    const book = bookFrom(rules(rule('other', '{ fact: device.id, operator: equal, value: ups-hall2 }', '{ receivers: [facility-team] }')));
    const event = alarmEvent({ recipients: ['alarms@example.com', 'Alarms@Example.com', 'ops@example.com'] });
    const { route, verdicts } = await routeEvent(event, book, context());
    assert.equal(route.isDefault, true);
    assert.deepEqual(route.rules, []);
    assert.deepEqual(route.receivers, [
      { name: 'alarms@example.com', emails: ['alarms@example.com'] },
      { name: 'ops@example.com', emails: ['ops@example.com'] },
    ]);
    assert.equal(route.severity, DEFAULTS.severity);
    assert.equal(route.template, DEFAULTS.template);
    assert.equal(verdicts[0]?.matched, false);

    const configured = await routeEvent(event, book, context({ defaults: { ...DEFAULTS, receivers: ['oncall'] } }));
    assert.deepEqual(configured.route.receivers, [{ name: 'oncall', emails: ['oncall@example.com'] }]);

    const empty = await routeEvent(event, RuleBook.empty(), context());
    assert.equal(empty.route.isDefault, true);
    assert.deepEqual(empty.verdicts, []);
  });

  it('rules that name no receiver leave the alarm with the default receivers', async () => {
    const book = bookFrom(rules(rule('severity-only', ALWAYS, '{ severity: critical }')));
    const { route } = await routeEvent(alarmEvent(), book, context());
    assert.deepEqual(route.rules, ['severity-only']);
    assert.equal(route.isDefault, false);
    assert.equal(route.severity, 'critical');
    assert.deepEqual(route.receivers, [{ name: 'alarms@example.com', emails: ['alarms@example.com'] }]);
  });

  it('suppress: true names the rule in suppressedBy', async () => {
    const book = bookFrom(rules(rule('quiet', '{ fact: device.id, operator: equal, value: test-rig }', '{ suppress: true }')));
    const quiet = await routeEvent(alarmEvent({ device: { id: 'test-rig', name: 'Test rig', matchedBy: 'sender' } }), book, context());
    assert.equal(quiet.route.suppressedBy, 'quiet');
    const loud = await routeEvent(alarmEvent(), book, context());
    assert.equal(loud.route.suppressedBy, undefined);
  });

  it('severity: the rule’s, else the event’s, else the default’s', async () => {
    const book = bookFrom(rules(rule('set', '{ fact: title, operator: equal, value: set }', '{ severity: critical }'), rule('unset', ALWAYS, '{ receivers: [oncall] }')));
    assert.equal((await routeEvent(alarmEvent({ title: 'set', severity: 'minor' }), book, context())).route.severity, 'critical');
    assert.equal((await routeEvent(alarmEvent({ severity: 'minor' }), book, context())).route.severity, 'minor');
    assert.equal((await routeEvent(alarmEvent(), book, context())).route.severity, 'warning');
    assert.equal((await routeEvent(alarmEvent({ severity: 'info' }), RuleBook.empty(), context())).route.severity, 'info');
  });
});

describe('routeEvent: conditions', () => {
  const matched = async (when: string, event = alarmEvent(), now?: number, timeZone?: string): Promise<boolean> => {
    const book = bookFrom(rules(rule('r', when, '{ receivers: [oncall] }')));
    const { verdicts } = await routeEvent(event, book, context({ ...(now === undefined ? {} : { now }), ...(timeZone ? { timeZone } : {}) }));
    return verdicts[0]!.matched;
  };

  it('matches with (?i) ignores case (RE2 inline flag); without it case matters', async () => {
    const event = alarmEvent({ title: 'UPS-HALL2: On battery power in response to an input power problem.' });
    assert.equal(await matched('{ fact: title, operator: matches, value: "(?i)ON BATTERY" }', event), true);
    assert.equal(await matched('{ fact: title, operator: matches, value: "ON BATTERY" }', event), false);
    assert.equal(await matched('{ fact: title, operator: notMatches, value: "(?i)no longer" }', event), true);
    assert.equal(await matched("{ fact: title, operator: matches, value: '(?i)st(ö|oe)rung' }", alarmEvent({ title: 'STÖRUNG Kessel 1' })), true);
  });

  it('between wraps midnight, in the configured time zone', async () => {
    const night = '{ fact: timeOfDay, operator: between, value: ["22:00", "06:00"] }';
    // 24 Nov 2026, Berlin is UTC+1.
    const berlin = (h: number, m: number): number => Date.UTC(2026, 10, 24, h - 1, m);
    assert.equal(await matched(night, alarmEvent(), berlin(22, 0)), true);
    assert.equal(await matched(night, alarmEvent(), berlin(23, 30)), true);
    assert.equal(await matched(night, alarmEvent(), berlin(0, 0)), true);
    assert.equal(await matched(night, alarmEvent(), berlin(5, 59)), true);
    assert.equal(await matched(night, alarmEvent(), berlin(6, 0)), false);
    assert.equal(await matched(night, alarmEvent(), berlin(21, 59)), false);
    assert.equal(await matched(night, alarmEvent(), berlin(12, 0)), false);
    // The same instant, 23:30 in Berlin, is 17:30 in New York: not night there.
    assert.equal(await matched(night, alarmEvent(), berlin(23, 30), 'America/New_York'), false);
    // A range that does not wrap.
    assert.equal(await matched('{ fact: timeOfDay, operator: between, value: ["06:00", "22:00"] }', alarmEvent(), berlin(12, 0)), true);
  });

  it('weekday in the configured zone', async () => {
    // Saturday 28 Nov 2026 00:30 in Berlin is still Friday in UTC.
    const now = Date.UTC(2026, 10, 27, 23, 30);
    assert.equal(await matched('{ fact: weekday, operator: equal, value: sat }', alarmEvent(), now), true);
    assert.equal(await matched('{ fact: weekday, operator: equal, value: sat }', alarmEvent(), now, 'UTC'), false);
  });

  it('device and fields properties, exists, startsWith, endsWith, contains on text and lists, numbers', async () => {
    const event = alarmEvent({
      device: { id: 'ups-hall2', name: 'UPS Hall 2', site: 'Plant North', area: 'Hall 2', matchedBy: 'sender' },
      fields: { Location: 'Hall 2, electrical room', 'Alarm class': 'A' },
      recipients: ['facility@example.com', 'ops@example.com'],
      value: 142,
      sender: null,
    });
    assert.equal(await matched('{ fact: device.site, operator: equal, value: Plant North }', event), true);
    assert.equal(await matched('{ fact: device.description, operator: exists, value: false }', event), true);
    assert.equal(await matched('{ fact: fields.Location, operator: startsWith, value: Hall 2 }', event), true);
    assert.equal(await matched('{ fact: fields.Alarm class, operator: in, value: [A, B] }', event), true);
    assert.equal(await matched('{ fact: fields.Missing, operator: exists, value: true }', event), false);
    assert.equal(await matched('{ fact: fields.constructor, operator: exists, value: true }', event), false);
    assert.equal(await matched('{ fact: title, operator: endsWith, value: alarm }', event), true);
    assert.equal(await matched('{ fact: title, operator: contains, value: "st al" }', event), true);
    assert.equal(await matched('{ fact: recipients, operator: contains, value: ops@example.com }', event), true);
    assert.equal(await matched("{ fact: recipients, operator: matches, value: '^ops@' }", event), true);
    assert.equal(await matched('{ fact: value, operator: greaterThan, value: 130 }', event), true);
    assert.equal(await matched('{ fact: sender, operator: exists, value: false }', event), true, '<> sender is absent');
    assert.equal(await matched('{ fact: code, operator: notEqual, value: "0x0109" }', event), true, 'negative operators hold for absent facts');
    assert.equal(await matched('{ fact: hasAttachments, operator: equal, value: false }', event), true);
    assert.equal(await matched('{ not: { fact: state, operator: equal, value: active } }', event), false);
  });

  it('verdict reasons show each condition with the value it saw, long values cut short', async () => {
    const book = bookFrom(
      rules(
        rule(
          'ups',
          '{ all: [ { fact: title, operator: matches, value: "(?i)on battery" }, { any: [ { fact: code, operator: equal, value: "0x0109" }, { fact: timeOfDay, operator: between, value: ["22:00", "06:00"] } ] } ] }',
          '{ receivers: [facility-team] }',
        ),
      ),
    );
    const event = alarmEvent({ title: 'UPS-HALL2: On battery power in response to an input power problem.' });
    const { verdicts } = await routeEvent(event, book, context());
    assert.deepEqual(verdicts[0]?.reasons, [
      'title matches "(?i)on battery" → true (was "UPS-HALL2: On battery power in response to an input power...")',
      'any of → false',
      '  code equal "0x0109" → false (was absent)',
      '  timeOfDay between ["22:00", "06:00"] → false (was "12:00")',
    ]);
    assert.equal(verdicts[0]?.matched, false);
  });

  it('concurrent routing on one book gives every event its own full result', async () => {
    // json-rules-engine keeps its run status on the engine; overlapping runs used to lose results.
    const book = bookFrom(rules(rule('a', '{ fact: title, operator: startsWith, value: Test }', '{ receivers: [oncall], continue: true }'), rule('b', ALWAYS, '{ receivers: [quality] }')));
    const runs = Array.from({ length: 100 }, async (_, i) => {
      for (let k = 0; k < i % 37; k += 1) await null;
      return routeEvent(alarmEvent({ title: i % 2 === 0 ? 'Test' : 'Other' }), book, context());
    });
    const results = await Promise.all(runs);
    results.forEach((result, i) => assert.deepEqual(result.route.rules, i % 2 === 0 ? ['a', 'b'] : ['b'], `run ${i}`));
  });
});

describe('resolveReceivers', () => {
  it('expands groups recursively, guards cycles and dedupes addresses', () => {
    const receivers: ReceiverConfig[] = [
      { name: 'plant', members: ['shift', 'maintenance'] },
      { name: 'shift', email: ['a@example.com', 'b@example.com'], members: ['plant'] },
      { name: 'maintenance', email: 'B@example.com', members: ['shift', 'self'] },
      { name: 'self', email: 'self@example.com', members: ['self'] },
    ];
    assert.deepEqual(resolveReceivers(['plant', 'self', 'unknown'], receivers), [
      { name: 'plant', emails: ['a@example.com', 'b@example.com', 'self@example.com'] },
      { name: 'self', emails: ['self@example.com'] },
      { name: 'unknown', emails: [] },
    ]);
  });

  it('a group cycle routes without hanging', async () => {
    const receivers: ReceiverConfig[] = [...RECEIVERS, { name: 'oncall', members: ['maintenance', 'oncall'], email: 'oncall@example.com' }];
    const book = bookFrom(rules(rule('r', ALWAYS, '{ receivers: [oncall] }')));
    const { route } = await routeEvent(alarmEvent(), book, context({ receivers: receivers.filter((r, i, all) => all.findLastIndex((x) => x.name === r.name) === i) }));
    assert.deepEqual(route.receivers, [{ name: 'oncall', emails: ['oncall@example.com', 'maintenance@example.com'] }]);
  });

  it('a rule receiver that no longer has an address falls back to the default receivers', async () => {
    const book = bookFrom(rules(rule('r', ALWAYS, '{ receivers: [oncall] }')));
    const { route } = await routeEvent(alarmEvent(), book, context({ receivers: [] }));
    assert.deepEqual(route.receivers, [
      { name: 'oncall', emails: [] },
      { name: 'alarms@example.com', emails: ['alarms@example.com'] },
    ]);
  });
});

describe('rules that name their devices', () => {
  it('are not evaluated for other devices, and the verdict says why', async () => {
    const book = new RuleBook(
      parseRuleFile(
        'rules:\n  - name: only-ups\n    when: { all: [ { fact: device.id, operator: in, value: [ups-hall2, ups-hall3] }, { fact: title, operator: matches, value: "battery" } ] }\n    then: { receivers: [oncall] }\n  - name: anyone\n    when: { all: [ { fact: title, operator: matches, value: "battery" } ] }\n    then: { receivers: [oncall] }\n',
        'devices.yaml',
        { receivers: ['oncall'] },
      ),
    );
    assert.equal(book.appliesTo('only-ups', 'ups-hall3'), true);
    assert.equal(book.appliesTo('only-ups', 'plc-line4'), false);
    assert.equal(book.appliesTo('anyone', 'plc-line4'), true);
    const other = await routeEvent(alarmEvent({ title: 'on battery', device: { id: 'plc-line4', name: 'PLC', matchedBy: 'sender' } }), book, context());
    assert.deepEqual(other.route.rules, ['anyone']);
    assert.match(other.verdicts[0]?.reasons[0] ?? '', /device\.id is "plc-line4": the rule is for other devices/);
    const ups = await routeEvent(alarmEvent({ title: 'on battery', device: { id: 'ups-hall2', name: 'UPS', matchedBy: 'sender' } }), book, context());
    assert.deepEqual(ups.route.rules, ['only-ups']);
  });

  it('keep nothing of an event once its run has ended', async () => {
    // A device's engine queues its runs; the queue once held the last run's result, and with it
    // the facts: each device's last text (up to the size of a mail) stayed in memory.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const book = new RuleBook(parseRuleFile('rules:\n  - name: r\n    when: { all: [ { fact: text, operator: matches, value: "overheat" } ] }\n    then: { receivers: [oncall] }\n', 'r.yaml', { receivers: ['oncall'] }));
    const run = async (): Promise<WeakRef<object>> => {
      const facts = { device: { id: 'plc-line4' }, title: 'x', text: `overheat ${'x'.repeat(100_000)}` };
      const results = await book.evaluate(facts);
      assert.equal(results.get('r')?.result, true);
      return new WeakRef(facts.device);
    };
    const facts = await run();
    // Past the job that made the WeakRef (it keeps its target until then), then a full collection.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.equal(facts.deref(), undefined, 'a fact is still reachable after its run');
  });

  it('routing without explain builds no reasons', async () => {
    const book = new RuleBook(parseRuleFile('rules:\n  - name: r\n    when: { all: [ { fact: title, operator: matches, value: "x" } ] }\n    then: { receivers: [oncall] }\n', 'r.yaml', { receivers: ['oncall'] }));
    const { verdicts } = await routeEvent(alarmEvent({ title: 'x' }), book, context({ explain: false }));
    assert.deepEqual(verdicts[0]?.reasons, []);
    assert.equal(verdicts[0]?.applied, true);
  });
});
