import assert from 'node:assert/strict';
import { randomBytes, scrypt } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { chromiumGate, launchChromium, withScreenshots } from '../helpers/chromium.js';
import { loadCorpus } from '../helpers/corpus.js';
import { sendAsDevice } from '../helpers/device-client.js';
import { configFrom, drainedOutbox, relayDelivery, runGateway, testDir, type RunningGateway } from '../helpers/gateway.js';
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
/** The person who logs in (an admin: the audit log is for admins). */
const USER = { name: 'anna', password: 'correct horse battery staple' };

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

/** A `http.users[].passwordHash` line as `annunciator user hash` prints it (scrypt$N$r$p$salt$hash), at the cheapest cost it accepts. */
function passwordHash(password: string): Promise<string> {
  const salt = randomBytes(16);
  return new Promise((resolve, reject) =>
    scrypt(password, salt, 32, { N: 2 ** 14, r: 8, p: 1 }, (error, hash) => (error ? reject(error) : resolve(`scrypt$${2 ** 14}$8$1$${salt.toString('base64')}$${hash.toString('base64')}`))),
  );
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
    const raw = shippedAlarmsConfig(dir, {
      delivery: relayDelivery(upstream.port, { pollInterval: '100ms' }),
      http: { listen: { address: '127.0.0.1', port: 0 }, users: [{ name: USER.name, role: 'admin', passwordHash: { env: 'ANNA_PASSWORD_HASH' } }] },
    });
    gateway = await runGateway(configFrom(dir, raw, { ANNA_PASSWORD_HASH: await passwordHash(USER.password) }));
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
      // A 401 before the login (and for the wrong password) is how the page learns to ask; Chromium logs each.
      if (message.type() === 'error' && !/status of 401 \(Unauthorized\)/.test(message.text())) pageProblems.push(`console error: ${message.text()}`);
    });
  }

  /** Opens the console and logs in (a new browser context has no session). */
  async function open(p: Page, hash = '#/'): Promise<void> {
    await p.goto(`${base}/${hash}`);
    await logIn(p);
  }

  async function logIn(p: Page, password = USER.password): Promise<void> {
    await p.locator('#login-name').fill(USER.name);
    await p.locator('#login-password').fill(password);
    await p.getByRole('button', { name: 'Log in' }).click();
    if (password === USER.password) await p.locator('#live[data-state="on"]').waitFor();
  }

  let firstAlarm: string;

  it('asks for a login, refuses a wrong password, then shows the board, live, with who is logged in and the gateway’s name', async () => {
    await withScreenshots('login', pages, async () => {
      await page.goto(`${base}/`);
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      assert.equal(await page.locator('#alarm-list').count(), 0, 'no board before the login');
      await logIn(page, 'wrong password');
      await page.getByRole('alert').filter({ hasText: 'Name or password is wrong.' }).waitFor();
      await logIn(page);
      await page.getByRole('heading', { name: 'Active alarms' }).waitFor();
      assert.match((await page.locator('#who').textContent()) ?? '', /^anna \(admin\)$/);
      assert.equal(await page.locator('#logout').isVisible(), true);
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
      assert.equal(stored?.ack?.by, 'anna', 'credited to the person logged in');
      assert.equal(stored?.ack?.channel, 'console');
      assert.equal(stored?.ack?.comment, 'on my way, generator check');
      const messages = await upstream.waitForMessages(2, 10_000);
      const told = messages.find((m) => kindOf(m) === 'acknowledged');
      assert.ok(told, `an acknowledgement announcement: ${messages.map(kindOf).join(', ')}`);
      assert.equal(alarmOf(told), firstAlarm);
      assert.match(told.parsed.subject ?? '', /^\[ACK by anna\] /);
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

      await page.locator('#alarm-comment').fill('generator started, load on mains again soon');
      await page.locator('#alarm-add-comment').click();
      await timeline.locator('.tl-commented', { hasText: 'generator started, load on mains again soon' }).waitFor();
      assert.equal(await page.locator('#alarm-comment').inputValue(), '', 'the field is cleared once the comment is in');
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

  it('a weekly silence made on the silences page is listed with its window, and expiring it ends it', async () => {
    await withScreenshots('weekly-silence', pages, async () => {
      await page.locator('nav a[data-page=silences]').click();
      await page.locator('#new-silence').click();
      const form = page.locator('#silence-create');
      await form.waitFor();
      await form.locator('.matcher-row select[name=field]').selectOption('device.site');
      await form.locator('.matcher-row input[name=value]').fill('Plant South');
      await form.getByLabel('Every week').check();
      for (const day of ['sat', 'sun']) await form.locator(`input[name=day][value=${day}]`).check();
      await page.locator('#weekly-from').fill('06:00');
      await page.locator('#weekly-to').fill('18:00');
      await page.locator('#silence-comment').fill('weekend shutdown');
      await page.locator('#silence-submit').click();
      const card = page.locator('#silences .silence', { hasText: 'weekend shutdown' });
      await card.waitFor();
      assert.match((await card.textContent()) ?? '', /device\.site=Plant South/);
      const id = (await card.getAttribute('data-id'))!;
      const stored = await gateway.store.silences.get(id);
      assert.deepEqual(stored?.schedule.kind === 'weekly' ? [stored.schedule.days, stored.schedule.from, stored.schedule.to, stored.schedule.timeZone] : stored?.schedule, [['sat', 'sun'], '06:00', '18:00', 'Europe/Berlin']);

      await card.getByRole('button', { name: 'Expire now' }).click();
      await card.waitFor({ state: 'detached' });
      assert.ok((await gateway.store.silences.get(id))?.expiredAt !== undefined, 'expired in the store');
    });
  });

  it('the on-call, delivery and devices pages show the schedules, the account that delivered, and when each device was last heard', async () => {
    await withScreenshots('oncall-delivery-devices', pages, async () => {
      await page.locator('nav a[data-page=oncall]').click();
      const schedule = page.locator('#oncall .card').first();
      await schedule.waitFor();
      assert.match((await schedule.locator('.oncall-now').textContent()) ?? '', /^Now: \S/);

      await page.locator('nav a[data-page=delivery]').click();
      const account = page.locator('#delivery tbody tr', { hasText: 'lan-relay' });
      await account.waitFor();
      assert.equal(await account.locator('.health').textContent(), 'ok');
      assert.match((await account.locator('time').first().textContent()) ?? '', /\d\d:\d\d CES?T$/);

      await page.locator('nav a[data-page=devices]').click();
      const ups = page.locator('#devices tbody tr', { hasText: 'UPS Hall 2' });
      await ups.waitFor();
      assert.match((await ups.textContent()) ?? '', /\d\d:\d\d CES?T \(\d+ s ago\)/);
    });
  });

  it('the audit log page shows the acknowledgement and the silence', async () => {
    await withScreenshots('audit', pages, async () => {
      await page.locator('nav a[data-page=audit]').click();
      const table = page.locator('#audit');
      await table.waitFor();
      await table.locator('tr', { hasText: firstAlarm }).filter({ hasText: /acknowledge/ }).first().waitFor();
      await table.locator('tr', { hasText: /silence\.create/ }).filter({ hasText: 'generator test this morning' }).first().waitFor();
      await table.locator('tr', { hasText: /silence\.expire/ }).first().waitFor();
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

  it('logging out ends the session: the console asks for a login again and the API refuses the old cookie', async () => {
    await withScreenshots('logout', pages, async () => {
      const cookies = await desktop.cookies(base);
      const session = cookies.find((c) => c.name === 'annunciator_session');
      assert.ok(session?.httpOnly, 'the session cookie is HttpOnly');
      assert.equal(session.sameSite, 'Strict');
      await page.locator('#logout').click();
      await page.getByRole('heading', { name: 'Log in' }).waitFor();
      assert.equal(await page.locator('#live').getAttribute('data-state'), 'off');
      const refused = await fetch(`${base}/api/v1/alarms`, { headers: { cookie: `annunciator_session=${session.value}` } });
      assert.equal(refused.status, 401);
    });
  });

  it('no page error and nothing refused by the Content-Security-Policy along the way', () => {
    assert.deepEqual(pageProblems, []);
    assert.deepEqual(dialogs, []);
  });
});
