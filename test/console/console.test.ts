import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumGate, launchChromium, withScreenshots } from '../helpers/chromium.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, drainedOutbox, eventually, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
import { shippedAlarmsConfig } from '../helpers/shipped-config.js';
import { startUpstream, type Upstream, type UpstreamMessage } from '../helpers/upstream.js';

/**
 * The web console in real Chromium against a real gateway (the shipped configuration, a
 * real SMTP upstream, devices over SMTP): what the on-call engineer does, on a desktop
 * and on a phone. Waits on the page and the gateway's events, never on sleeps.
 */

const corpus = loadCorpus();
const gate = chromiumGate();
const MARKUP = '<img src=x onerror=alert(1)>';

function kindOf(message: UpstreamMessage): string {
  const value = message.parsed.headers.get('x-annunciator-kind');
  return typeof value === 'string' ? value : '';
}

function alarmOf(message: UpstreamMessage): string {
  const value = message.parsed.headers.get('x-annunciator-alarm');
  return typeof value === 'string' ? value : '';
}

async function sendCorpus(gateway: RunningGateway, file: string): Promise<void> {
  const mail = corpus.find((m) => m.file === file)!;
  const result = await sendAsDevice({ port: gateway.port, mailFrom: mail.mailFrom, rcptTo: mail.rcptTo, data: mail.raw, behaviour: mail.behaviour });
  assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
}

async function sendSubject(gateway: RunningGateway, subject: string): Promise<void> {
  const data = Buffer.from(`From: pump-p3@plant.local\r\nTo: maintenance@example.com\r\nSubject: ${subject}\r\n\r\n${subject}\r\n`);
  const result = await sendAsDevice({ port: gateway.port, mailFrom: 'pump-p3@plant.local', rcptTo: ['maintenance@example.com'], data });
  assert.match(result.dataReply ?? '', /^250 /, result.replies.join(' | '));
}

describe('web console in Chromium', { skip: gate.skip }, () => {
  const dir = testDir();
  let upstream: Upstream;
  let gateway: RunningGateway;
  let browser: Browser;
  let desktop: BrowserContext;
  let page: Page;
  let base: string;
  const dialogs: string[] = [];
  const pageProblems: string[] = [];
  const pages = () => (page ? [page] : []);

  before(async () => {
    gate.assertPresent();
    upstream = await startUpstream({ security: 'none' });
    const raw = shippedAlarmsConfig(dir, { delivery: relayDelivery(upstream.port, { pollInterval: '100ms' }) });
    gateway = await runGateway(configFrom(dir, raw));
    base = `http://127.0.0.1:${gateway.http!.address().port}`;
    browser = await launchChromium();
    desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    page = await desktop.newPage();
    watch(page);
  });
  after(async () => {
    await browser?.close();
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  });

  /** Every alert a page opens (none may), every uncaught error and console error (a CSP refusal is one). */
  function watch(p: Page): void {
    p.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    p.on('pageerror', (error) => pageProblems.push(`page error: ${error.message}`));
    p.on('console', (message) => {
      if (message.type() === 'error') pageProblems.push(`console error: ${message.text()}`);
    });
  }

  /** Opens the console; logs in when it asks. */
  async function open(p: Page, hash = '#/'): Promise<void> {
    await p.goto(`${base}/${hash}`);
    await p.locator('#live[data-state="on"]').waitFor();
  }

  let firstAlarm: string;

  it('shows the board, live, with who is logged in and the gateway’s name', async () => {
    await withScreenshots('board', pages, async () => {
      await open(page);
      await page.getByRole('heading', { name: 'Active alarms' }).waitFor();
      assert.match((await page.locator('#who').textContent()) ?? '', /local \(admin\)/);
      assert.equal(await page.locator('#gateway').textContent(), 'gw.test');
      await page.getByText('No active alarms.').waitFor();
    });
  });

  it('an alarm sent over SMTP appears on the board without a reload, its times in alarms.timeZone with the zone label', async () => {
    await withScreenshots('live-alarm', pages, async () => {
      // The test's own code runs in the page as a string: the test is compiled without the DOM's types.
      await page.evaluate('window.notReloaded = true');
      await sendCorpus(gateway, 'ups-on-battery.eml');
      const row = page.locator('.alarm', { hasText: 'UPS-HALL2: On battery power' });
      await row.waitFor();
      assert.equal(await page.evaluate('window.notReloaded'), true, 'the page was not reloaded');
      firstAlarm = (await row.getAttribute('data-id'))!;
      assert.ok(firstAlarm);
      assert.match((await row.locator('.sev').textContent()) ?? '', /major/);
      // The shipped alarms.timeZone is Europe/Berlin: CET in December (CEST in summer).
      assert.match((await row.locator('time').first().textContent()) ?? '', /^(\w{3} \d+ \w+ )?\d\d:\d\d CES?T$/);
      const [firing] = await upstream.waitForMessages(1, 10_000);
      assert.equal(kindOf(firing!), 'firing');
    });
  });

  it('acknowledges it with a comment from the board; the receivers that were told hear of it', async () => {
    await withScreenshots('acknowledge', pages, async () => {
      const row = page.locator(`.alarm[data-id="${firstAlarm}"]`);
      await row.locator('input.select').check();
      await page.locator('#ack-comment').fill('on my way, generator check');
      await page.locator('#ack-selected').click();
      await row.locator('.acked', { hasText: 'on my way, generator check' }).waitFor();

      const stored = await gateway.store.alarms.get(firstAlarm);
      assert.equal(stored?.ack?.by, 'local');
      assert.equal(stored?.ack?.comment, 'on my way, generator check');
      const messages = await upstream.waitForMessages(2, 10_000);
      const told = messages.find((m) => kindOf(m) === 'acknowledged');
      assert.ok(told, `an acknowledgement announcement: ${messages.map(kindOf).join(', ')}`);
      assert.equal(alarmOf(told), firstAlarm);
      assert.match(told.parsed.subject ?? '', /^\[ACK by local\] /);
      assert.match(told.parsed.text ?? '', /on my way, generator check/);
      assert.deepEqual([...told.rcptTo].sort(), [...messages[0]!.rcptTo].sort(), 'to those the alarm was sent to');
    });
  });

  it('the alarm page shows its timeline: raised, the notification delivered, the acknowledgement', async () => {
    await withScreenshots('alarm-page', pages, async () => {
      await page.locator(`.alarm[data-id="${firstAlarm}"] a.title`).click();
      await page.locator('#timeline').waitFor();
      const timeline = page.locator('#timeline');
      await timeline.locator('.tl-raised').waitFor();
      await timeline.locator('.tl-notification .delivery-sent, .tl-notification .delivery-delivered').first().waitFor();
      await timeline.locator('.tl', { hasText: /acknowledged/ }).first().waitFor();
      assert.match((await timeline.locator('.tl-time').first().textContent()) ?? '', /\d\d:\d\d:\d\d CES?T$/);
    });
  });

  let silenced: string;

  it('a silence made from the alarm page, prefilled with its device and title, mutes the alarm when it comes again', async () => {
    await withScreenshots('silence', pages, async () => {
      await page.locator('#alarm-silence').click();
      const form = page.locator('#silence-create');
      await form.waitFor();
      const values = await form.locator('.matcher-row input[name=value]').evaluateAll((inputs) => inputs.map((i) => (i as unknown as { value: string }).value));
      assert.deepEqual(values, ['ups-hall2', 'UPS-HALL2: On battery power in response to an input power problem.']);
      await page.locator('#silence-comment').fill('generator test this morning');
      await page.locator('#silence-submit').click();
      await page.locator('#silences .silence', { hasText: 'generator test this morning' }).waitFor();

      // The UPS comes back (the alarm resolves) and goes on battery again: a new alarm, muted.
      const sentBefore = upstream.messages.length;
      const muted = gateway.events.once('alarm-changed', (p) => p.alarm.id !== firstAlarm && p.outcome === 'silenced');
      await sendCorpus(gateway, 'ups-back-on-line.eml');
      await sendCorpus(gateway, 'ups-on-battery.eml');
      silenced = (await muted).alarm.id;
      await page.locator('nav a[data-page=board]').click();
      await page.locator(`.alarm[data-id="${silenced}"] .muted-flag`).waitFor();
      await drainedOutbox(gateway);
      const firing = upstream.messages.slice(sentBefore).filter((m) => alarmOf(m) === silenced);
      assert.deepEqual(firing.map(kindOf), [], 'nothing sent for the muted alarm');
      await page.locator(`.alarm[data-id="${silenced}"] a.title`).click();
      await page.locator('#timeline .tl-silenced').waitFor();
    });
  });

  it('the audit log page shows the acknowledgement and the silence', async () => {
    await withScreenshots('audit', pages, async () => {
      await page.locator('nav a[data-page=audit]').click();
      const table = page.locator('#audit');
      await table.waitFor();
      await table.locator('tr', { hasText: firstAlarm }).filter({ hasText: /acknowledge/ }).first().waitFor();
      await table.locator('tr', { hasText: /silence/ }).filter({ hasText: 'generator test this morning' }).first().waitFor();
    });
  });

  it('a device title with markup is shown as text, on the board and its page, and nothing runs', async () => {
    await withScreenshots('markup', pages, async () => {
      await page.locator('nav a[data-page=board]').click();
      await page.locator('#alarm-list').waitFor();
      await sendSubject(gateway, `ALARM Pump P3 ${MARKUP} dry run`);
      const title = page.locator('.alarm a.title', { hasText: MARKUP });
      await title.waitFor();
      assert.match((await title.textContent()) ?? '', /ALARM Pump P3 <img src=x onerror=alert\(1\)> dry run/);
      assert.equal(await page.locator('main img').count(), 0, 'no element made from the title');
      await title.click();
      await page.getByRole('heading', { name: `ALARM Pump P3 ${MARKUP} dry run` }).waitFor();
      assert.equal(await page.locator('main img').count(), 0);
      assert.deepEqual(dialogs, [], 'no dialog opened');
    });
  });

  it('works at a phone’s size: the board fits the width, the menu folds, acknowledging is in reach', async () => {
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 3 });
    const small = await phone.newPage();
    watch(small);
    try {
      await withScreenshots('phone', () => [small], async () => {
        await open(small);
        const row = small.locator('.alarm', { hasText: 'Pump P3' });
        await row.waitFor();
        const widths = (await small.evaluate('({ page: document.documentElement.scrollWidth, view: window.innerWidth })')) as { page: number; view: number };
        assert.ok(widths.page <= widths.view, `no sideways scrolling: ${widths.page} > ${widths.view}`);
        const box = (await row.boundingBox())!;
        assert.ok(box.x >= 0 && box.x + box.width <= 390, `the row fits: ${JSON.stringify(box)}`);
        assert.equal(await small.locator('nav a[data-page=audit]').isVisible(), false, 'the menu is folded');
        await small.locator('#menu-toggle').tap();
        await small.locator('nav a[data-page=audit]').waitFor();
        await small.locator('#menu-toggle').tap();

        await row.locator('input.select').tap();
        const bar = small.locator('.ack-bar');
        await bar.waitFor();
        const barBox = (await bar.boundingBox())!;
        assert.ok(barBox.y + barBox.height <= 844 + 1 && barBox.width <= 390 + 1, `the acknowledgement bar is on screen: ${JSON.stringify(barBox)}`);
        await small.locator('#ack-comment').fill('from my phone');
        await small.locator('#ack-selected').tap();
        await row.locator('.acked', { hasText: 'from my phone' }).waitFor();
      });
    } finally {
      await phone.close();
    }
  });

  it('no page error and nothing refused by the Content-Security-Policy along the way', () => {
    assert.deepEqual(pageProblems, []);
    assert.deepEqual(dialogs, []);
  });
});
