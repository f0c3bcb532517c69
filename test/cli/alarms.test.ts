import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Alarm } from '../../src/lifecycle/alarm.js';
import { alarmsInStore, type StoredAlarms } from '../helpers/cli-alarms.js';
import { runCli } from '../helpers/cli.js';
import { testDir } from '../helpers/gateway.js';

/** The shortest beginning of `id` that no other id shares. */
function uniquePrefix(id: string, others: string[]): string {
  for (let n = 1; n <= id.length; n += 1) {
    const prefix = id.slice(0, n);
    if (!others.some((o) => o !== id && o.startsWith(prefix))) return prefix;
  }
  return id;
}

/** The ids of the table's rows, top to bottom. */
function rowIds(stdout: string): string[] {
  return [...stdout.matchAll(/^([0-9A-Z]{26}) /gm)].map((m) => m[1]!);
}

describe('annunciator alarms', () => {
  const dir = testDir();
  after(() => dir.remove());
  let stored: StoredAlarms;
  let ups: Alarm;
  let motor: Alarm;
  let coldRoom: Alarm;
  let battery: Alarm;
  const cli = (...args: string[]) => runCli(['--config', stored.configFile, ...args]);

  before(async () => {
    stored = await alarmsInStore(dir, Date.parse('2026-11-24T13:00:00Z'), [
      { from: 'ups-hall2@plant.local', to: 'facility@example.com', subject: 'UPS-HALL2: On battery power' },
      { from: 'plc-line4@plant.local', to: 'maintenance@example.com', subject: 'ALARM Line4 Motor M12 overtemperature' },
      { from: 'logger-cold-room@plant.local', to: 'quality@example.com', subject: 'Cold room 3 temperature high', body: 'temperature 9.5 C above upper limit 8' },
      { from: 'ups-hall2@plant.local', to: 'facility@example.com', subject: 'UPS-HALL2: Battery needs replacement' },
    ]);
    [ups, motor, coldRoom, battery] = stored.alarms as [Alarm, Alarm, Alarm, Alarm];
    assert.deepEqual(
      stored.alarms.map((a) => [a.device.id, a.device.site, a.severity]),
      [
        ['ups-hall2', 'Plant North', 'major'],
        ['plc-line4', 'Plant North', 'critical'],
        ['logger-cold-room', 'Plant South', 'major'],
        ['ups-hall2', 'Plant North', 'warning'],
      ],
      'the shipped configuration and rules give these devices, sites and severities',
    );
  });

  it('ack and alarms --show take a unique beginning of an id, in any case', async () => {
    const ids = stored.alarms.map((a) => a.id);
    const prefix = uniquePrefix(motor.id, ids);
    assert.ok(prefix.length < motor.id.length);
    const acked = await cli('ack', prefix.toLowerCase(), '--by', 'anna');
    assert.equal(acked.code, 0, acked.stderr);
    assert.match(acked.stdout, new RegExp(`^alarm ${motor.id} acknowledged by anna`));
    const shown = await cli('alarms', '--show', prefix);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, new RegExp(`^${motor.id}  ACTIVE  critical  ALARM Line4 Motor M12 overtemperature$`, 'm'));
    assert.match(shown.stdout, /^acknowledged by anna via cli at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T$/m);
  });

  it('an ambiguous beginning is an error listing the alarms it could mean; one that matches none says so', async () => {
    const ids = stored.alarms.map((a) => a.id);
    let common = ids[0]!;
    while (!ids.every((id) => id.startsWith(common))) common = common.slice(0, -1);
    assert.ok(common.length > 0, 'ids made the same minute share their beginning');

    for (const args of [['ack', common], ['alarms', '--show', common]]) {
      const result = await cli(...args);
      assert.equal(result.code, 1, args.join(' '));
      assert.match(result.stderr, new RegExp(`: alarm id ${common} is ambiguous; it begins 4 alarms:\\n`));
      for (const alarm of stored.alarms) assert.match(result.stderr, new RegExp(`^ {2}${alarm.id} {2}active {2}${alarm.device.name} {2}`, 'm'));
      assert.match(result.stderr, /type more of the id\n$/);
    }
    assert.equal((await cli('alarms', '--show', ups.id)).stdout.includes('acknowledged not yet'), true, 'the ambiguous ack acknowledged nothing');

    const none = await cli('ack', 'ZZZZZZ');
    assert.equal(none.code, 1);
    assert.equal(none.stderr, 'annunciator ack: no alarm ZZZZZZ (see annunciator alarms --all)\n');
  });

  it('lists who acknowledged each alarm', async () => {
    const listed = await cli('alarms');
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /^ID +STATE +SEVERITY +COUNT +FIRST SEEN +LAST SEEN +ACK BY +DEVICE +TITLE$/m);
    assert.match(listed.stdout, new RegExp(`^${motor.id} +active +critical +1 +.+ ago +.+ ago +anna +PLC Line 4 +ALARM Line4 Motor M12 overtemperature$`, 'm'));
    assert.match(listed.stdout, new RegExp(`^${ups.id} +active +major +1 +.+ ago +.+ ago +- +UPS Hall 2 +UPS-HALL2: On battery power$`, 'm'));
  });

  it('--device, --site, --severity and --state narrow the list, and combine', async () => {
    const ids = async (...args: string[]) => {
      const result = await cli('alarms', ...args);
      assert.equal(result.code, 0, `${args.join(' ')}: ${result.stderr}`);
      return rowIds(result.stdout).sort();
    };
    const sorted = (...alarms: Alarm[]) => alarms.map((a) => a.id).sort();
    assert.deepEqual(await ids(), sorted(ups, motor, coldRoom, battery));
    assert.deepEqual(await ids('--device', 'plc-line4'), sorted(motor));
    assert.deepEqual(await ids('--device', 'ups hall 2'), sorted(ups, battery), 'by name, any case');
    assert.deepEqual(await ids('--site', 'plant south'), sorted(coldRoom));
    assert.deepEqual(await ids('--severity', 'critical,major'), sorted(ups, motor, coldRoom));
    assert.deepEqual(await ids('--severity', 'major', '--site', 'Plant North'), sorted(ups));
    assert.deepEqual(await ids('--state', 'acknowledged'), sorted(motor));
    assert.deepEqual(await ids('--state', 'unacknowledged', '--device', 'ups-hall2'), sorted(ups, battery));
    assert.deepEqual(await ids('--state', 'all', '--severity', 'warning'), sorted(battery));
    const none = await cli('alarms', '--state', 'resolved');
    assert.equal(none.stdout, 'no alarms match\n');
    const json = JSON.parse((await cli('alarms', '--site', 'Plant South', '--json')).stdout) as Alarm[];
    assert.deepEqual(json.map((a) => a.id), [coldRoom.id]);
  });

  it('a filter it cannot use is a usage error', async () => {
    for (const [args, message] of [
      [['--severity', 'urgent'], /--severity urgent: use one or more of critical, major, minor, warning, info/],
      [['--state', 'open'], /--state open: not one of active, resolved, acknowledged, unacknowledged, all/],
      [['--all', '--state', 'resolved'], /--all and --state resolved contradict each other/],
    ] as const) {
      const result = await cli('alarms', ...args);
      assert.equal(result.code, 2, args.join(' '));
      assert.match(result.stderr, message);
      assert.match(result.stderr, /\(see 'annunciator alarms --help'\)\n$/);
    }
  });

  it('silence list shows every cell whole, however long, and control characters as text', async () => {
    const matcher = 'title~(?i)(battery needs replacement|self-test failed|on battery power|overload)';
    assert.ok(matcher.length > 60);
    const comment = 'Battery bank swap in hall 2, electrical room; contractor on site from 22:00 until the morning shift takes over';
    const added = await cli('silence', 'add', '-m', 'device.id=ups-hall2', '-m', matcher, '--for', '2h', '--comment', comment);
    assert.equal(added.code, 0, added.stderr);
    const listed = await cli('silence', 'list');
    assert.ok(listed.stdout.includes(`device.id=ups-hall2 ${matcher}`), listed.stdout);
    assert.ok(listed.stdout.includes(comment), listed.stdout);

    const escaped = await cli('silence', 'add', '-m', 'device.id=x', '--for', '1h', '--comment', 'line one\nline two\u001b[31m');
    assert.equal(escaped.code, 0, escaped.stderr);
    const again = await cli('silence', 'list');
    assert.ok(again.stdout.includes('line one\\x0aline two\\x1b[31m'), again.stdout);
    assert.doesNotMatch(again.stdout, /\u001b/);
  });
});
