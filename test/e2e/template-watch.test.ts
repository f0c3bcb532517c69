import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { capturedLogs } from '../helpers/captured-logs.js';
import { sendDeviceAlarm } from '../helpers/device-client.js';
import { configFrom, eventually, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

/**
 * `alarms.watch: true` (the default; docs/configuration.md: "reload rules and templates when
 * their files change"): a gateway running with it picks up a template edited on disk, and
 * the next notification is rendered from the new file. A broken edit is refused and the
 * template in force stays. The reload is awaited by its log line, never by a sleep.
 */

interface Line {
  msg: string;
  level: number;
  stage?: string;
}

const RELOADED = /^reloaded \d+ rule\(s\) and \d+ template set\(s\)$/;

describe('the templates watcher (alarms.watch: true)', { timeout: 30_000 }, () => {
  const dir = testDir();
  const templates = join(dir.path, 'templates');
  const subjectFile = join(templates, 'default', 'subject.hbs');
  const { logger, lines } = capturedLogs<Line>('info');
  let upstream: Upstream;
  let gateway: RunningGateway;
  let original: string;

  before(async () => {
    cpSync(join(REPO_ROOT, 'templates'), templates, { recursive: true });
    original = readFileSync(subjectFile, 'utf8');
    upstream = await startUpstream({ security: 'none' });
    const raw = shippedAlarmsConfig(dir, { delivery: relayDelivery(upstream.port) });
    raw.alarms = { ...(raw.alarms as object), templatesDir: templates, watch: true };
    gateway = await runGateway(configFrom(dir, raw), logger);
  });
  after(async () => {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  /** Sends an alarm from the pump house PLC and returns the subject of the notification it gives. */
  async function notificationSubject(title: string): Promise<string> {
    const before = upstream.messages.length;
    await sendDeviceAlarm(gateway.port, 'plc', title);
    const messages = await upstream.waitForMessages(before + 1);
    const subject = messages[before]?.parsed.subject ?? '';
    assert.ok(subject.includes(title), `the notification of "${title}": ${subject}`);
    return subject;
  }

  /** Writes `content` over the default subject template and waits for the watcher's reload to be logged: that line. */
  async function editSubjectTemplate(content: string): Promise<Line> {
    const seen = lines.length;
    writeFileSync(subjectFile, content);
    return eventually(() => lines.slice(seen).find((l) => RELOADED.test(l.msg) || /^templates refused/.test(l.msg)), 10_000, 'the templates to be reloaded');
  }

  it('renders the next notification from a subject template changed on disk', async () => {
    const first = await notificationSubject('Pump P3 dry run');
    assert.doesNotMatch(first, /WATCHED/, 'the shipped subject template at first');
    assert.equal(lines.filter((l) => RELOADED.test(l.msg)).length, 0, 'no reload before a file changed');

    const reloaded = await editSubjectTemplate(`[WATCHED] ${original}`);
    assert.match(reloaded.msg, RELOADED);
    assert.equal(reloaded.stage, 'rules');

    const second = await notificationSubject('Pump P4 dry run');
    assert.match(second, /^\[WATCHED\] /, second);
    // The rest of the subject is rendered as before.
    assert.equal(second.replace('[WATCHED] ', '').replace('Pump P4', 'Pump P3').replace(/#\S+$/, ''), first.replace(/#\S+$/, ''));
  });

  it('refuses a broken edit: the error is logged and the template in force stays', async () => {
    const refused = await editSubjectTemplate('{{#if title}}unclosed\n');
    assert.match(refused.msg, /^templates refused, rules and templates in force stay:/);
    assert.equal(refused.level, 50, 'logged as an error');
    assert.match(refused.msg, /subject\.hbs/);

    const subject = await notificationSubject('Pump P5 dry run');
    assert.match(subject, /^\[WATCHED\] /, `still the last good template: ${subject}`);
  });
});
