/**
 * The console's board during a flood: a real Chromium shows the board (GET /api/v1/alarms,
 * live over GET /api/v1/events) while one PLC sends N distinct alarms over a few SMTP
 * sessions. Prints how long the board took to show them all after the store had them, how
 * many times it read the list (the board refreshes at most a few times a second, not once
 * per event) and how long those reads took, and the events the stream carried. Exits 1
 * when the board never shows all N or the stream lost events.
 */
import { mkdirSync } from 'node:fs';
import { arch, cpus, platform } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/log/logger.js';
import { CHROMIUM, launchChromium } from '../test/helpers/chromium.js';
import { configFrom, runGateway, testDir, type RunningGateway } from '../test/helpers/gateway.js';
import { REPO_ROOT } from '../test/helpers/gateway-process.js';
import { startUpstream, type Upstream } from '../test/helpers/upstream.js';
import { ms, percentile, positiveInt, runBench } from './bench-kit.js';
import { deviceSession, type DeviceMessage } from './smtp-device.js';

const USAGE = `npm run bench:console -- [options]
  --alarms N        distinct alarms the flooding device sends (default 500; the board shows up to 500)
  --connections C   its concurrent SMTP sessions (default 5)`;

const { values } = parseArgs({ options: { alarms: { type: 'string', default: '500' }, connections: { type: 'string', default: '5' }, help: { type: 'boolean', default: false } } });
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const args = { alarms: positiveInt('alarms', values.alarms), connections: positiveInt('connections', values.connections) };

function alarm(token: number): DeviceMessage {
  const title = `Sensor ${token} signal lost`;
  return { token, mailFrom: 'storm-plc@plant.local', rcptTo: 'alarms@plant.local', data: ['From: storm-plc@plant.local', 'To: alarms@plant.local', `Subject: ${title}`, '', title].join('\r\n') };
}

async function main(): Promise<number> {
  const dir = testDir('annunciator-bench-console-');
  let upstream: Upstream | undefined;
  let gateway: RunningGateway | undefined;
  const browser = await launchChromium();
  try {
    upstream = await startUpstream({ security: 'none' });
    mkdirSync(join(dir.path, 'rules'));
    const config = configFrom(dir, {
      gateway: { hostname: 'gw.bench', domain: 'gw.bench', dataDir: join(dir.path, 'data') },
      log: { level: 'error', format: 'json' },
      listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32'] }],
      http: { listen: { address: '127.0.0.1', port: 0 } },
      receivers: [{ name: 'oncall', email: 'oncall@example.com' }],
      devices: [{ id: 'storm-plc', name: 'storm-plc', match: { senders: ['storm-plc@plant.local'] }, site: 'Hall B' }],
      alarms: { rulesDir: join(dir.path, 'rules'), templatesDir: join(REPO_ROOT, 'templates'), watch: false, defaultRoute: { receivers: ['oncall'] } },
      delivery: { pollInterval: '100ms', accounts: [{ name: 'lan', host: '127.0.0.1', port: upstream.port, security: 'none' }] },
    });
    gateway = await runGateway(config, createLogger({ level: 'error', format: 'json', destination: process.stderr }));
    const base = `http://127.0.0.1:${gateway.http!.address().port}`;

    const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
    const reads: number[] = [];
    page.on('requestfinished', (request) => {
      if (!/\/api\/v1\/alarms\?/.test(request.url())) return;
      const t = request.timing();
      reads.push(t.responseEnd - t.requestStart);
    });
    await page.goto(`${base}/#/`);
    await page.locator('#live[data-state="on"]').waitFor();
    await page.getByText('No active alarms.').waitFor();
    // A second stream beside the board's, counting what the gateway sends.
    await page.evaluate(`window.streamed = 0; new EventSource('/api/v1/events').addEventListener('alarm-changed', () => { window.streamed += 1; })`);
    const readsBefore = reads.length;

    const startedAt = performance.now();
    let next = 0;
    const perSession = Math.ceil(args.alarms / args.connections / 10);
    const session = async (): Promise<void> => {
      while (next < args.alarms) {
        const batch: DeviceMessage[] = [];
        for (; batch.length < perSession && next < args.alarms; next += 1) batch.push(alarm(next));
        await deviceSession(gateway!.port, batch);
      }
    };
    // A function, not a string: the console's CSP forbids evaluating strings in the page. (No DOM types here: the bench compiles as Node code.)
    type Doc = { document: { querySelectorAll(selector: string): { length: number } } };
    const shown = page.waitForFunction((n) => (globalThis as unknown as Doc).document.querySelectorAll('#alarm-list .alarm').length >= n, Math.min(args.alarms, 500), { timeout: 120_000, polling: 'raf' });
    await Promise.all(Array.from({ length: args.connections }, session));
    const acceptedAt = performance.now();
    const store = gateway.store;
    let recordedAt = 0;
    for (const deadline = performance.now() + 120_000; performance.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 5))) {
      if ((await store.alarms.list(['active'], args.alarms + 10)).length >= args.alarms) {
        recordedAt = performance.now();
        break;
      }
    }
    let shownAt = 0;
    try {
      await shown;
      shownAt = performance.now();
    } catch {
      shownAt = 0;
    }
    const streamed = (await page.evaluate('window.streamed')) as number;
    const boardReads = reads.slice(readsBefore).sort((a, b) => a - b);

    const s = (value: number): string => `${(value / 1000).toFixed(2)} s`;
    const cpu = cpus();
    console.log(`machine   node ${process.version}, ${platform()}/${arch()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'}); ${CHROMIUM}`);
    console.log(`args      --alarms ${args.alarms} --connections ${args.connections}`);
    console.log(`ingest    ${args.alarms} alarms accepted in ${s(acceptedAt - startedAt)}; all recorded after ${recordedAt ? s(recordedAt - startedAt) : 'NEVER'}`);
    console.log(`board     all ${Math.min(args.alarms, 500)} shown ${shownAt ? `${s(shownAt - startedAt)} after the flood began, ${ms(Math.max(0, shownAt - recordedAt))} after the store had the last` : 'NEVER (2 min)'}`);
    console.log(`reads     the board read the list ${boardReads.length} times for ${streamed} alarm events; read p50 ${ms(percentile(boardReads, 50))}, p99 ${ms(percentile(boardReads, 99))}, max ${ms(boardReads.at(-1) ?? 0)}`);
    const problems: string[] = [];
    if (!shownAt) problems.push('the board never showed every alarm');
    if (streamed < args.alarms) problems.push(`the event stream carried ${streamed} alarm events for ${args.alarms} alarms`);
    for (const problem of problems) console.log(`check     FAILED: ${problem}`);
    if (problems.length === 0) console.log('check     ok: the board showed every alarm, the stream carried every raise');
    return problems.length === 0 ? 0 : 1;
  } finally {
    await browser.close();
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  }
}

runBench(main);
