import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { alarmsInStore, type StoredAlarms } from '../helpers/cli-alarms.js';
import { runCli } from '../helpers/cli.js';
import { testDir } from '../helpers/gateway.js';

/** A UTC time as the commands used to print it for people. */
const ISO_UTC = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/;

describe('times: alarms.timeZone with its name for people, RFC 3339 for scripts', () => {
  const dir = testDir();
  after(() => dir.remove());
  let stored: StoredAlarms;
  // The machine's own zone must not leak into what people read.
  const env = { TZ: 'America/New_York' };
  const cli = (...args: string[]) => runCli(['--config', stored.configFile, ...args], { env });

  before(async () => {
    // 13:00:00 UTC is 14:00:00 in Berlin (the shipped alarms.timeZone) and 08:00 in New York.
    stored = await alarmsInStore(dir, Date.parse('2026-11-24T13:00:00Z'), [{ from: 'ups-hall2@plant.local', to: 'facility@example.com', subject: 'UPS-HALL2: On battery power' }]);
  });

  it('alarms --show: first and last seen and the history in Berlin time, labelled', async () => {
    const alarm = stored.alarms[0]!;
    const shown = await cli('alarms', '--show', alarm.id);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /^seen {8}1 time\(s\), first 2026-11-24 14:00:00 CET, last 2026-11-24 14:00:00 CET$/m);
    assert.match(shown.stdout, /^ {2}2026-11-24 14:00:00 CET {2}raised /m);
    assert.doesNotMatch(shown.stdout, ISO_UTC);
  });

  it('--json: every time is an RFC 3339 string in UTC', async () => {
    const alarm = stored.alarms[0]!;
    const listed = JSON.parse((await cli('alarms', '--json')).stdout) as Array<{ id: string; firstSeen: unknown; lastSeen: unknown }>;
    assert.equal(listed[0]?.firstSeen, '2026-11-24T13:00:00.000Z');
    assert.equal(listed[0]?.lastSeen, '2026-11-24T13:00:00.000Z');
    const shown = JSON.parse((await cli('alarms', '--show', alarm.id, '--json')).stdout) as { alarm: { firstSeen: unknown }; history: Array<{ at: unknown }> };
    assert.equal(shown.alarm.firstSeen, '2026-11-24T13:00:00.000Z');
    assert.equal(shown.history[0]?.at, '2026-11-24T13:00:00.000Z');
    const queue = JSON.parse((await cli('queue', 'list', '--json')).stdout) as Array<{ createdAt: unknown; nextAttemptAt: unknown }>;
    assert.equal(queue[0]?.createdAt, '2026-11-24T13:00:00.000Z');
    assert.match(String(queue[0]?.nextAttemptAt), /^2026-11-24T14:00:0\d\.000Z$/, 'retry in an hour');
  });

  it('ack: when, in Berlin time; a second ack says who came first and when', async () => {
    const alarm = stored.alarms[0]!;
    const first = await cli('ack', alarm.id, '--by', 'anna');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, new RegExp(`^alarm ${alarm.id} acknowledged by anna at \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d CES?T; pending escalation levels cancelled\\n$`));
    const second = await cli('ack', alarm.id, '--by', 'tom');
    assert.match(second.stdout, /was already acknowledged by anna via cli at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T; nothing changed/);
    const json = JSON.parse((await cli('ack', alarm.id, '--json')).stdout) as { alarm: { ack: { at: unknown } } };
    assert.match(String(json.alarm.ack.at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('silence add and list: the window in Berlin time, labelled; --json in RFC 3339', async () => {
    const added = await cli('silence', 'add', '-m', 'device.id=ups-hall2', '--from', '2099-12-01T22:00', '--for', '8h', '--comment', 'battery swap');
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^ {2}when {7}2099-12-01 22:00 CET - 2099-12-02 06:00 CET$/m);
    const listed = await cli('silence', 'list');
    assert.match(listed.stdout, /2099-12-01 22:00 CET - 2099-12-02 06:00 CET/);
    assert.doesNotMatch(`${added.stdout}${listed.stdout}`, ISO_UTC);
    const [silence] = JSON.parse((await cli('silence', 'list', '--json')).stdout) as Array<{ schedule: { start: unknown; end: unknown } }>;
    assert.deepEqual(silence?.schedule, { kind: 'window', start: '2099-12-01T21:00:00.000Z', end: '2099-12-02T05:00:00.000Z' });

    const past = await cli('silence', 'add', '-m', 'device.id=x', '--until', '2020-01-01T12:00', '--comment', 'x');
    assert.equal(past.code, 2);
    assert.match(past.stderr, /the silence would end 2020-01-01 12:00 CET, which is already past/);
  });
});
