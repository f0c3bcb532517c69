import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { sendAsDevice } from '../helpers/device-client.js';
import { baseConfig, configFrom, eventually, runGateway, testDir } from '../helpers/gateway.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

describe('a rule routing to an on-call schedule, through the running gateway', () => {
  const dir = testDir();
  after(() => dir.remove());

  it('notifies whoever is on call when the alarm is processed', async () => {
    const rulesDir = join(dir.path, 'rules');
    mkdirSync(rulesDir, { recursive: true });
    writeFileSync(join(rulesDir, 'boiler.yaml'), 'rules:\n  - name: boiler\n    when: { all: [ { fact: title, operator: matches, value: "Kessel" } ] }\n    then: { receivers: [plant-oncall] }\n');
    // The gateway's clock is the real one: anna's rotation, with tom covering the hour around now.
    const now = Date.now();
    const gateway = await runGateway(
      configFrom(dir, {
        ...baseConfig(dir),
        alarms: { rulesDir, templatesDir: join(REPO_ROOT, 'templates'), timeZone: 'Europe/Berlin', watch: false },
        receivers: [
          { name: 'anna', email: 'anna@example.com' },
          { name: 'tom', email: 'tom@example.com' },
        ],
        schedules: [
          {
            name: 'plant-oncall',
            timeZone: 'Europe/Berlin',
            rotation: { members: ['anna'], handoff: { time: '09:00' }, every: '1d', start: '2026-01-01' },
            overrides: [{ from: new Date(now - 3_600_000).toISOString(), to: new Date(now + 3_600_000).toISOString(), receivers: ['tom'], reason: 'Tom covers' }],
          },
        ],
      }),
    );
    try {
      const result = await sendAsDevice({ port: gateway.port, mailFrom: 'hmi-kessel@plant.local', rcptTo: ['schicht@example.com'], data: Buffer.from('Subject: Störung Kessel 1\r\n\r\nDruck zu hoch\r\n', 'utf8') });
      assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
      const [entry] = await eventually(async () => {
        const sent = await gateway.store.outbox.list(['sent']);
        return sent.length > 0 && sent;
      }, 10_000, 'the notification written');
      assert.deepEqual(entry?.recipients, ['tom@example.com']);
    } finally {
      await gateway.stop();
    }
  });
});
