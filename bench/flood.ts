/**
 * Flood-control benchmark: one PLC storms the gateway with N distinct alarms over a few
 * SMTP sessions while a second device sends one alarm in the middle of it. Prints how
 * many mails went out for the storm, how fast the storm was taken in and recorded, when
 * its digest arrived, and how long the other device's alarm took to reach the upstream:
 * the one alarm that matters, which a storm of single notifications would queue behind.
 * Run with --no-flood to see the same storm without flood control. Not a test, but it
 * exits 1 when the mails do not add up: every storm alarm must be told exactly once, one
 * by one or in a digest (the store's history says which), the single notifications must
 * number exactly the limit (every alarm without flood control), the digests' subjects must
 * count what the histories say, and the other device's alarm must arrive once.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { arch, cpus, platform } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createLogger } from '../src/log/logger.js';
import { configFrom, runGateway, testDir, type RunningGateway } from '../test/helpers/gateway.js';
import { REPO_ROOT } from '../test/helpers/gateway-process.js';
import { startUpstream, type Upstream } from '../test/helpers/upstream.js';
import { positiveInt, runBench } from './bench-kit.js';
import { deviceSession, type DeviceMessage } from './smtp-device.js';

const USAGE = `npm run bench:flood -- [options]
  --alarms N        distinct alarms the storming device sends (default 500)
  --connections C   its concurrent SMTP sessions (default 5)
  --limit L         flood-control limit per minute (default 30)
  --digest S        digest interval in seconds (default 5)
  --no-flood        flood control off: every alarm its own mail`;

const { values } = parseArgs({
  options: {
    alarms: { type: 'string', default: '500' },
    connections: { type: 'string', default: '5' },
    limit: { type: 'string', default: '30' },
    digest: { type: 'string', default: '5' },
    'no-flood': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const args = {
  alarms: positiveInt('alarms', values.alarms),
  connections: positiveInt('connections', values.connections),
  limit: positiveInt('limit', values.limit),
  digestSeconds: positiveInt('digest', values.digest),
  flood: !values['no-flood'],
};

function alarm(device: string, token: number, title: string): DeviceMessage {
  return { token, mailFrom: `${device}@plant.local`, rcptTo: 'alarms@plant.local', data: [`From: ${device}@plant.local`, 'To: alarms@plant.local', `Subject: ${title}`, '', title].join('\r\n') };
}

async function main(): Promise<number> {
  const dir = testDir('annunciator-bench-flood-');
  let upstream: Upstream | undefined;
  let gateway: RunningGateway | undefined;
  try {
    upstream = await startUpstream({ security: 'none' });
    mkdirSync(join(dir.path, 'rules'));
    const config = configFrom(dir, {
      gateway: { hostname: 'gw.bench', domain: 'gw.bench', dataDir: join(dir.path, 'data') },
      log: { level: 'error', format: 'json' },
      listeners: [{ name: 'lan', address: '127.0.0.1', port: 0, trustedNetworks: ['127.0.0.1/32'] }],
      receivers: [{ name: 'oncall', email: 'oncall@example.com' }],
      devices: ['storm-plc', 'calm-plc'].map((id) => ({ id, name: id, match: { senders: [`${id}@plant.local`] }, site: 'Hall B' })),
      alarms: {
        rulesDir: join(dir.path, 'rules'),
        templatesDir: join(REPO_ROOT, 'templates'),
        watch: false,
        defaultRoute: { receivers: ['oncall'] },
        floodControl: { enabled: args.flood, limit: args.limit, window: '1m', digestInterval: `${args.digestSeconds}s` },
      },
      delivery: { pollInterval: '100ms', accounts: [{ name: 'lan', host: '127.0.0.1', port: upstream.port, security: 'none' }] },
    });
    gateway = await runGateway(config, createLogger({ level: 'error', format: 'json', destination: process.stderr }));
    const arrivals: number[] = [];
    const stamp = setInterval(() => {
      while (arrivals.length < upstream!.messages.length) arrivals.push(performance.now());
    }, 2);

    const startedAt = performance.now();
    let next = 0;
    let calmSentAt = 0;
    const perSession = Math.ceil(args.alarms / args.connections / 10);
    const session = async (): Promise<void> => {
      while (next < args.alarms) {
        const batch: DeviceMessage[] = [];
        for (; batch.length < perSession && next < args.alarms; next += 1) batch.push(alarm('storm-plc', next, `Sensor ${next} signal lost`));
        await deviceSession(gateway!.port, batch);
      }
    };
    const calm = (async () => {
      while (next < args.alarms / 2) await new Promise((resolve) => setTimeout(resolve, 1));
      calmSentAt = performance.now();
      await deviceSession(gateway!.port, [alarm('calm-plc', -1, 'Cooling water flow low')]);
    })();
    await Promise.all([...Array.from({ length: args.connections }, session), calm]);
    const acceptedAt = performance.now();

    const store = gateway.store;
    const recorded = async (): Promise<number> => (await store.alarms.list(['active'], args.alarms + 10)).filter((a) => a.device.id === 'storm-plc').length;
    const recordDeadline = performance.now() + 120_000;
    while ((await recorded()) < args.alarms && performance.now() < recordDeadline) await new Promise((resolve) => setTimeout(resolve, 10));
    const recordedAt = performance.now();

    const expectedMails = args.flood ? Math.min(args.alarms, args.limit) : args.alarms;
    const digestsFolded = (): number =>
      upstream!.messages.filter((m) => m.parsed.headers.get('x-annunciator-kind') === 'digest').reduce((sum, m) => sum + Number(/(\d+) notifications? folded/.exec(m.parsed.subject ?? '')?.[1] ?? 0), 0);
    const deadline = performance.now() + 120_000 + args.digestSeconds * 2000;
    let complete = false;
    while (performance.now() < deadline) {
      const single = upstream.messages.filter((m) => m.parsed.headers.get('x-annunciator-kind') === 'firing' && /Sensor/.test(m.parsed.subject ?? '')).length;
      if (single + digestsFolded() >= args.alarms) {
        complete = true;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    // Listen a little longer for a late duplicate or a digest too many.
    if (complete) await new Promise((resolve) => setTimeout(resolve, 1000));
    clearInterval(stamp);
    while (arrivals.length < upstream.messages.length) arrivals.push(performance.now());
    const doneAt = arrivals[arrivals.length - 1] ?? performance.now();

    const messages = upstream.messages;
    const calmIndex = messages.findIndex((m) => /Cooling water/.test(m.parsed.subject ?? ''));
    const digests = messages.filter((m) => m.parsed.headers.get('x-annunciator-kind') === 'digest');
    const singles = messages.filter((m) => m.parsed.headers.get('x-annunciator-kind') === 'firing' && /Sensor/.test(m.parsed.subject ?? ''));
    const firstDigestAt = digests.length > 0 ? arrivals[messages.indexOf(digests[0]!)]! : undefined;
    const s = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
    const cpu = cpus();
    console.log(`machine   node ${process.version}, ${platform()}/${arch()}, ${cpu.length} CPUs (${cpu[0]?.model.trim() ?? 'unknown'})`);
    console.log(`args      --alarms ${args.alarms} --connections ${args.connections} --limit ${args.limit} --digest ${args.digestSeconds}${args.flood ? '' : ' --no-flood'}`);
    console.log(`ingest    ${args.alarms + 1} alarms accepted in ${s(acceptedAt - startedAt)} (${((args.alarms * 1000) / (acceptedAt - startedAt)).toFixed(0)}/s); all ${args.alarms} storm alarms recorded after ${s(recordedAt - startedAt)}`);
    console.log(`mails     ${messages.length} upstream for ${args.alarms + 1} alarms: ${singles.length} single storm notifications, ${digests.length} digest(s) folding ${digestsFolded()}, ${calmIndex >= 0 ? 1 : 0} for the other device`);
    if (firstDigestAt !== undefined) console.log(`digest    first one ${s(firstDigestAt - startedAt)} after the storm began (interval ${args.digestSeconds} s)`);
    console.log(`other     the other device's alarm reached the upstream ${calmIndex >= 0 ? `${s(arrivals[calmIndex]! - calmSentAt)} after it was sent, as mail ${calmIndex + 1} of ${messages.length}` : 'NEVER'}`);
    console.log(`done      everything out after ${s(doneAt - startedAt)}`);

    // The accounting, per storm alarm: told one by one (its mail arrived) or in a digest (its history says digest-sent).
    const problems: string[] = [];
    const stormAlarms = (await store.alarms.list(['active'], args.alarms + 10)).filter((a) => a.device.id === 'storm-plc');
    if (stormAlarms.length !== args.alarms) problems.push(`${stormAlarms.length} storm alarms recorded, ${args.alarms} sent`);
    if (!complete) problems.push(`not every storm alarm was told within ${s(deadline - acceptedAt)} of the storm's end`);
    const tokenOf = (text: string | undefined): string | undefined => /Sensor (\d+) signal lost/.exec(text ?? '')?.[1];
    const singleTokens = singles.map((m) => tokenOf(m.parsed.subject));
    const singleSet = new Set(singleTokens);
    if (singleSet.size !== singleTokens.length) problems.push(`${singleTokens.length - singleSet.size} single notifications arrived twice`);
    if (singles.length !== expectedMails) problems.push(`${singles.length} single storm notifications, expected exactly ${expectedMails}`);
    if (!args.flood && digests.length > 0) problems.push(`${digests.length} digest(s) with flood control off`);
    let inDigests = 0;
    const untold: string[] = [];
    const twice: string[] = [];
    for (const a of stormAlarms) {
      const digested = (await store.alarms.history(a.id)).filter((h) => h.outcome === 'digest-sent').length;
      const told = digested + (singleSet.has(tokenOf(a.title)) ? 1 : 0);
      if (told === 0) untold.push(a.title);
      if (told > 1) twice.push(a.title);
      inDigests += digested;
    }
    if (untold.length > 0) problems.push(`${untold.length} storm alarm(s) never told, e.g. "${untold[0]}"`);
    if (twice.length > 0) problems.push(`${twice.length} storm alarm(s) told more than once, e.g. "${twice[0]}"`);
    if (digestsFolded() !== inDigests) problems.push(`the digests' subjects fold ${digestsFolded()} notifications, the alarms' histories put ${inDigests} in a digest`);
    const calmCount = messages.filter((m) => /Cooling water/.test(m.parsed.subject ?? '')).length;
    if (calmCount !== 1) problems.push(`the other device's alarm arrived ${calmCount} times`);
    if (problems.length === 0) {
      console.log(`check     ok: each of the ${args.alarms} storm alarms told exactly once (${singles.length} one by one, ${inDigests} in ${digests.length} digest(s)); the other device's once`);
      return 0;
    }
    for (const problem of problems) console.log(`check     FAILED: ${problem}`);
    return 1;
  } finally {
    await gateway?.stop();
    await upstream?.close();
    dir.remove();
  }
}

runBench(main);
