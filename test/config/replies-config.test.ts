import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseConfig, type ConfigProblem } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/types.js';
import { unprocessedQuery } from '../../src/ingest/imap/reply-watcher.js';
import { createCa } from '../helpers/certs.js';
import { testDir } from '../helpers/gateway.js';
import { MINIMAL_CONFIG_YAML, ALARMS_YAML , refusalOf } from '../helpers/config-yaml.js';

const dir = testDir();
after(() => dir.remove());
const FILE = join(dir.path, 'annunciator.yaml');
const ENV = { IMAP_PASSWORD: 'hunter2-imap', M365_SECRET: 'client-secret', M365_REFRESH: 'refresh-token' };

const BASE = MINIMAL_CONFIG_YAML;
const ALARMS = ALARMS_YAML;

function replies(lines: string, alarms = true): string {
  return `${BASE}${alarms ? ALARMS : ''}replies:\n${lines}`;
}

const PLANT = `  - name: plant
    host: mail.plant.example.com
    auth: { user: alarms@plant.example.com, password: { env: IMAP_PASSWORD } }
`;

function parse(text: string, env: NodeJS.ProcessEnv = ENV): GatewayConfig {
  return parseConfig(text, FILE, env);
}

function problemsOf(text: string, env: NodeJS.ProcessEnv = ENV): ConfigProblem[] {
  return refusalOf(() => parse(text, env));
}

describe('the replies section', () => {
  it('is optional: without it no mailbox is read', () => {
    assert.deepEqual(parse(BASE + ALARMS).replies, []);
  });

  it('takes safe defaults: implicit TLS on 993, TLS 1.2, INBOX, keyword + \\Seen, ACK/OK/ACKNOWLEDGE', () => {
    const [account] = parse(replies(PLANT)).replies;
    assert.ok(account);
    assert.equal(account.security, 'tls');
    assert.equal(account.port, 993);
    assert.equal(account.tls.minVersion, 'TLSv1.2');
    assert.deepEqual(account.tls.ca, []);
    assert.equal(account.folder, 'INBOX');
    assert.deepEqual(account.processed, { flags: ['$AnnunciatorDone', '\\Seen'] });
    assert.equal(account.pollInterval, 60_000);
    assert.deepEqual(account.reconnect, { initialDelay: 1000, maxDelay: 300_000 });
    assert.deepEqual(account.ackWords, ['ACK', 'OK', 'ACKNOWLEDGE']);
    assert.deepEqual(account.allowFrom, []);
    assert.equal(account.auth.type, 'login');
    assert.equal(account.auth.type === 'login' && account.auth.password.reveal(), 'hunter2-imap');
    assert.doesNotMatch(JSON.stringify(account), /hunter2/, 'the password never prints');
  });

  it('reads every key, an extra CA file included', () => {
    const ca = dir.write('plant-ca.pem', createCa().cert);
    const account = parse(
      replies(`  - name: plant
    host: mail.plant.local
    port: 143
    security: starttls
    auth: { type: plain, user: alarms, password: { env: IMAP_PASSWORD } }
    tls: { ca: [${ca}], minVersion: TLSv1.3 }
    folder: Alarms/Replies
    processed: { flags: ['\\Seen', '\\Flagged'] }
    pollInterval: 2m
    reconnect: { initialDelay: 5s, maxDelay: 10m }
    ackWords: [ACK, QUITTIERT]
    allowFrom: [lea@plant.example.com, '*@shift.plant.example.com']
`),
    ).replies[0]!;
    assert.equal(account.port, 143);
    assert.equal(account.security, 'starttls');
    assert.equal(account.auth.type, 'plain');
    assert.equal(account.tls.ca.length, 1);
    assert.equal(account.tls.minVersion, 'TLSv1.3');
    assert.equal(account.folder, 'Alarms/Replies');
    assert.deepEqual(account.processed.flags, ['\\Seen', '\\Flagged']);
    assert.equal(account.pollInterval, 120_000);
    assert.deepEqual(account.reconnect, { initialDelay: 5000, maxDelay: 600_000 });
    assert.deepEqual(account.ackWords, ['ACK', 'QUITTIERT']);
    assert.deepEqual(account.allowFrom, ['lea@plant.example.com', '*@shift.plant.example.com']);
    assert.deepEqual(unprocessedQuery(account), { or: [{ seen: false }, { flagged: false }], deleted: false });
  });

  it('moves processed replies: \\Seen by default, and every mail left in the folder is unprocessed', () => {
    const account = parse(replies(`${PLANT}    processed: { move: Acknowledged }\n`)).replies[0]!;
    assert.deepEqual(account.processed, { flags: ['\\Seen'], move: 'Acknowledged' });
    assert.deepEqual(unprocessedQuery(account), { deleted: false });
    assert.deepEqual(unprocessedQuery({ processed: { flags: ['$AnnunciatorDone', '\\Seen'] } }), { or: [{ unKeyword: '$AnnunciatorDone' }, { seen: false }], deleted: false });
  });

  it('presets fill host, port and the OAuth2 token endpoint and scope (Microsoft 365)', () => {
    const account = parse(
      replies(`  - name: m365
    preset: microsoft365
    auth:
      type: oauth2
      user: alarms@plant.example.com
      tenant: 00000000-1111-2222-3333-444444444444
      clientId: app-id
      clientSecret: { env: M365_SECRET }
      refreshToken: { env: M365_REFRESH }
`),
    ).replies[0]!;
    assert.equal(account.host, 'outlook.office365.com');
    assert.equal(account.port, 993);
    assert.equal(account.security, 'tls');
    assert.equal(account.auth.type, 'oauth2');
    if (account.auth.type !== 'oauth2') return;
    assert.equal(account.auth.tokenUrl, 'https://login.microsoftonline.com/00000000-1111-2222-3333-444444444444/oauth2/v2.0/token');
    assert.match(account.auth.scope ?? '', /IMAP\.AccessAsUser\.All/);
  });

  it('refuses plaintext to another host unless allowPlaintext says the wire is trusted; loopback is fine', () => {
    const problems = problemsOf(replies(`${PLANT}    security: none\n`));
    assert.equal(problems.length, 1);
    assert.equal(problems[0]!.key, 'replies[0].security');
    assert.match(problems[0]!.message, /sends the password in clear/);
    assert.ok(problems[0]!.line! > 0, 'with the line');
    assert.equal(parse(replies(`${PLANT}    security: none\n    allowPlaintext: true\n`)).replies[0]!.port, 143);
    assert.equal(parse(replies(`  - name: local\n    host: 127.0.0.1\n    security: none\n    auth: { user: a, password: { env: IMAP_PASSWORD } }\n`)).replies[0]!.security, 'none');
  });

  it('names file, line and key of each problem', () => {
    const problems = problemsOf(
      replies(`  - name: plant
    host: mail.plant.example.com
    auth: { user: alarms, password: { env: MISSING_VARIABLE } }
    processed: { flags: ['\\Deleted'], move: INBOX }
    ackWords: ['two words']
    allowFrom: [not-an-address]
    tls: { verify: false }
`),
    );
    const keys = problems.map((p) => p.key).sort();
    assert.deepEqual(keys, ['replies[0].ackWords[0]', 'replies[0].allowFrom[0]', 'replies[0].processed.flags[0]', 'replies[0].tls']);
    assert.ok(problems.every((p) => p.file === FILE && p.line! > 0));
    assert.match(problems.find((p) => p.key === 'replies[0].tls')!.message, /unknown key "verify"/);
    // Secrets and folders are checked once the shape is right.
    const second = problemsOf(replies(`${PLANT.replace('IMAP_PASSWORD', 'MISSING_VARIABLE')}    processed: { move: INBOX }\n    reconnect: { initialDelay: 10m, maxDelay: 1m }\n`));
    assert.deepEqual(second.map((p) => p.key).sort(), ['replies[0].auth.password', 'replies[0].processed.move', 'replies[0].reconnect.initialDelay']);
    assert.match(second.find((p) => p.key === 'replies[0].auth.password')!.message, /environment variable MISSING_VARIABLE is not set/);
  });

  it('needs the alarm pipeline, distinct names, a host and a token endpoint for OAuth2', () => {
    assert.match(problemsOf(replies(PLANT, false))[0]!.message, /add an alarms section/);
    assert.match(problemsOf(replies(PLANT + PLANT)).map((p) => p.message).join('\n'), /reply account name "plant" is used twice/);
    const noHost = problemsOf(replies(`  - name: x\n    auth: { user: a, password: { env: IMAP_PASSWORD } }\n`));
    assert.deepEqual(noHost.map((p) => p.key), ['replies[0].host']);
    const noTokenUrl = problemsOf(replies(`  - name: x\n    host: imap.example.com\n    auth: { type: oauth2, user: a, clientId: c, refreshToken: { env: M365_REFRESH } }\n`));
    assert.deepEqual(noTokenUrl.map((p) => p.key), ['replies[0].auth.tokenUrl']);
  });
});
