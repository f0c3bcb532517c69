import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { simpleParser } from 'mailparser';
import type { OutboxEntry } from '../../src/store/store.js';
import { alarmsInStore, withStoredStore, type StoredAlarms } from '../helpers/cli-alarms.js';
import { runCli } from '../helpers/cli.js';
import { testDir } from '../helpers/gateway.js';

describe('annunciator queue show', () => {
  const dir = testDir();
  after(() => dir.remove());
  let stored: StoredAlarms;
  const cli = (...args: string[]) => runCli(['--config', stored.configFile, 'queue', ...args]);
  const entry = (id: string) => withStoredStore(stored, async (store) => (await store.outbox.get(id))!);
  // The notifications of a UPS alarm and of a PLC alarm with umlauts, each pending after a failed attempt.
  let ups: OutboxEntry;
  let plc: OutboxEntry;
  /** The Subject header of a stored message, decoded by a full parse (the command parses only the header block). */
  /** A time in November on the clocks of Europe/Berlin (alarms.timeZone of the shipped configuration): UTC+1, CET. */
  const berlin = (ms: number) => `${new Date(ms + 3_600_000).toISOString().slice(0, 19).replace('T', ' ')} CET`;
  const subjectOf = async (e: OutboxEntry) => (await simpleParser(e.message)).subject ?? '';

  before(async () => {
    stored = await alarmsInStore(dir, Date.parse('2026-11-24T13:00:00Z'), [
      { from: 'ups-hall2@plant.local', to: 'facility@example.com', subject: 'UPS-HALL2: On battery power' },
      { from: 'plc-line4@plant.local', to: 'maintenance@example.com', subject: 'ALARM Line4 Kühlung Störung' },
    ]);
    assert.equal(stored.outbox.length, 2);
    ups = await entry(stored.outbox.find((e) => e.alarmId === stored.alarms[0]!.id)!.id);
    plc = await entry(stored.outbox.find((e) => e.alarmId === stored.alarms[1]!.id)!.id);
  });

  it('ID: a pending entry after a failed attempt, field by field, times in alarms.timeZone, the subject decoded', async () => {
    assert.match(plc.message.toString('latin1'), /^Subject: =\?UTF-8\?Q\?/m, 'the stored subject is encoded words');
    const subject = await subjectOf(plc);
    assert.match(subject, /ALARM Line4 Kühlung Störung/);
    assert.match(plc.lastError ?? '', /^down: .*ECONNREFUSED/);
    // Tried when it was queued (13:00:01 UTC) or a fake second later; retried an hour after that.
    assert.ok([Date.parse('2026-11-24T14:00:01Z'), Date.parse('2026-11-24T14:00:02Z')].includes(plc.nextAttemptAt), 'retried an hour after the failed attempt');
    const result = await cli('show', plc.id);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stderr, '');
    assert.equal(
      result.stdout,
      [
        `id           ${plc.id}`,
        'status       pending',
        'account      down',
        `from         ${plc.envelopeFrom}`,
        `to           ${plc.recipients.join(', ')}`,
        `subject      ${subject}`,
        `size         ${plc.message.length} bytes`,
        'created      2026-11-24 14:00:01 CET',
        'attempts     1',
        `next attempt ${berlin(plc.nextAttemptAt)}`,
        `last error   ${plc.lastError}`,
        'sent         -',
        `alarms       ${stored.alarms[1]!.id}  ALARM Line4 Kühlung Störung`,
        '',
      ].join('\n'),
    );
  });

  it('ID --json: one document with exactly these fields, times in RFC 3339 UTC', async () => {
    const result = await cli('show', plc.id, '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(JSON.parse(result.stdout), {
      id: plc.id,
      status: 'pending',
      account: 'down',
      envelopeFrom: plc.envelopeFrom,
      recipients: plc.recipients,
      rejectedRecipients: [],
      subject: await subjectOf(plc),
      size: plc.message.length,
      createdAt: '2026-11-24T13:00:01.000Z',
      attempts: 1,
      nextAttemptAt: new Date(plc.nextAttemptAt).toISOString(),
      lastError: plc.lastError,
      sentAt: null,
      receivedId: plc.receivedId,
      batch: null,
      alarms: [{ id: stored.alarms[1]!.id, title: 'ALARM Line4 Kühlung Störung' }],
    });
  });

  it('a unique beginning of the id, in any case, shows that entry', async () => {
    let differ = 0;
    while (ups.id[differ] === plc.id[differ]) differ++;
    const result = await cli('show', plc.id.slice(0, differ + 1).toLowerCase(), '--json');
    assert.equal(result.code, 0, result.stderr);
    assert.equal((JSON.parse(result.stdout) as { id: string }).id, plc.id);
  });

  it('an ambiguous beginning lists the candidates on stderr and exits 1', async () => {
    let common = 0;
    while (ups.id[common] === plc.id[common]) common++;
    assert.ok(common > 0, 'the two ids share a beginning');
    const prefix = ups.id.slice(0, common);
    const result = await cli('show', prefix);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    const [first, second] = [ups, plc].sort((a, b) => (a.id < b.id ? -1 : 1));
    assert.equal(
      result.stderr,
      `annunciator queue show: outbox entry id ${prefix} is ambiguous; it begins 2 entries:\n` +
        `  ${first!.id}  pending  ${first!.recipients.join(',')}\n  ${second!.id}  pending  ${second!.recipients.join(',')}\ntype more of the id\n`,
    );
  });

  it('an unknown id: stderr, exit 1, nothing on stdout', async () => {
    const result = await cli('show', 'ZZZZ');
    assert.equal(result.code, 1);
    assert.equal(result.stdout, '');
    assert.equal(result.stderr, 'annunciator queue show: no outbox entry ZZZZ (see annunciator queue --all)\n');
  });

  it('ID --message: the stored MIME message, byte for byte', async () => {
    const result = await cli('show', plc.id, '--message');
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout, plc.message.toString('utf8'));
  });

  it('a sent entry: sent time, no next attempt, the recipients the upstream refused', async () => {
    const refused = ups.recipients[1]!;
    await withStoredStore(stored, (store) => store.outbox.markSent(ups.id, Date.parse('2026-11-24T13:05:00Z'), 'down', [refused]));
    const text = await cli('show', ups.id);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split('\n');
    assert.ok(lines.includes('status       sent'), text.stdout);
    assert.ok(lines.includes('sent         2026-11-24 14:05:00 CET'), text.stdout);
    assert.ok(lines.includes('next attempt -'), text.stdout);
    assert.ok(lines.includes(`refused      ${refused}`), text.stdout);
    assert.ok(lines.includes(`alarms       ${stored.alarms[0]!.id}  UPS-HALL2: On battery power`), text.stdout);
    const json = JSON.parse((await cli('show', ups.id, '--json')).stdout) as Record<string, unknown>;
    assert.equal(json.status, 'sent');
    assert.equal(json.sentAt, '2026-11-24T13:05:00.000Z');
    assert.equal(json.nextAttemptAt, null);
    assert.deepEqual(json.rejectedRecipients, [refused]);
  });
});
