import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, fingerprintOfDer, fingerprintOfPem, formatKey, formatProblem, loadConfig, parseConfig, type ConfigProblem } from '../../src/config/load.js';
import { Secret } from '../../src/config/secret.js';
import type { GatewayConfig, SmtpAccount } from '../../src/config/types.js';
import { createSelfSigned } from '../helpers/certs.js';
import { testDir } from '../helpers/gateway.js';
import { MINIMAL_CONFIG_YAML } from '../helpers/config-yaml.js';

const dir = testDir();
after(() => dir.remove());
const FILE = join(dir.path, 'annunciator.yaml');

/** A listener and a file account: the smallest valid configuration. */
const MINIMAL = MINIMAL_CONFIG_YAML;

/** MINIMAL's listener and `accounts` lines followed by the given account YAML (indented under accounts). */
function withAccount(account: string): string {
  // Everything of MINIMAL but its one account.
  return `${MINIMAL_CONFIG_YAML.slice(0, MINIMAL_CONFIG_YAML.indexOf('    - name: files'))}${account}`;
}

function parse(text: string, env: NodeJS.ProcessEnv = {}): GatewayConfig {
  return parseConfig(text, FILE, env);
}

function problemsOf(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem[] {
  try {
    parse(text, env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    assert.equal(error.name, 'ConfigError');
    // The message lists every problem, formatted.
    assert.equal(error.message, error.problems.map(formatProblem).join('\n'));
    for (const problem of error.problems) assert.equal(problem.file, FILE);
    return error.problems;
  }
  assert.fail('expected the configuration to be refused');
}

function onlyProblem(text: string, env: NodeJS.ProcessEnv = {}): ConfigProblem {
  const problems = problemsOf(text, env);
  assert.equal(problems.length, 1, JSON.stringify(problems));
  return problems[0]!;
}

function smtp(config: GatewayConfig, index = 0): SmtpAccount {
  const account = config.delivery.accounts[index];
  assert.ok(account && account.type === 'smtp', `account ${index} is not smtp`);
  return account;
}

describe('formatProblem', () => {
  it('names file, line, column, key and message', () => {
    assert.equal(formatProblem({ file: '/etc/a.yaml', key: 'listeners[0].port', line: 4, column: 11, message: 'bad' }), '/etc/a.yaml:4:11: listeners[0].port: bad');
  });

  it('uses column 1 when only the line is known', () => {
    assert.equal(formatProblem({ file: 'a.yaml', key: 'k', line: 7, message: 'm' }), 'a.yaml:7:1: k: m');
  });

  it('names only the file when the line is unknown', () => {
    assert.equal(formatProblem({ file: 'a.yaml', key: 'k', message: 'm' }), 'a.yaml: k: m');
  });

  it('says "(top level)" for an empty key', () => {
    assert.equal(formatProblem({ file: 'a.yaml', key: '', line: 1, column: 1, message: 'm' }), 'a.yaml:1:1: (top level): m');
  });
});

describe('formatKey', () => {
  it('joins names with dots and indexes with brackets', () => {
    assert.equal(formatKey(['delivery', 'accounts', 0, 'port']), 'delivery.accounts[0].port');
    assert.equal(formatKey(['listeners', 1, 'auth', 'users', 0, 'password']), 'listeners[1].auth.users[0].password');
    assert.equal(formatKey([]), '');
    assert.equal(formatKey(['gateway']), 'gateway');
  });
});

describe('ConfigError', () => {
  it('keeps its problems and formats them one per line', () => {
    const problems: ConfigProblem[] = [
      { file: 'a.yaml', key: 'x', line: 2, column: 3, message: 'one' },
      { file: 'a.yaml', key: 'y', message: 'two' },
    ];
    const error = new ConfigError(problems);
    assert.ok(error instanceof Error);
    assert.equal(error.name, 'ConfigError');
    assert.deepEqual(error.problems, problems);
    assert.equal(error.message, 'a.yaml:2:3: x: one\na.yaml: y: two');
  });
});

describe('parseConfig: a valid configuration', () => {
  it('fills the documented defaults', () => {
    const config = parse(MINIMAL);
    assert.equal(config.file, FILE);
    assert.equal(config.gateway.hostname, 'annunciator.localdomain');
    assert.equal(config.gateway.domain, 'annunciator.localdomain');
    assert.equal(config.log.level, 'info');
    assert.equal(config.log.format, 'auto');
    const listener = config.listeners[0]!;
    assert.equal(listener.limits.maxMessageSize, 10 * 1024 * 1024);
    assert.equal(listener.limits.maxRecipients, 100);
    assert.equal(listener.limits.maxConnections, 200);
    assert.equal(listener.limits.maxConnectionsPerClient, 20);
    assert.equal(listener.limits.idleTimeout, 60_000);
    assert.equal(listener.limits.sessionTimeout, 600_000);
    assert.equal(listener.limits.maxHeaderLines, 1000);
    assert.equal(listener.limits.maxHeaderSize, 128 * 1024);
    assert.equal(listener.limits.maxMimeDepth, 20);
    assert.equal(listener.limits.maxMimeParts, 200);
    assert.deepEqual(listener.compat, { earlyTalkers: true, bareLf: true, fallbackCharset: 'windows-1252' });
    assert.equal(listener.auth, undefined);
    assert.equal(listener.tls, undefined);
    assert.deepEqual(config.relay, { from: { address: '{device}@{domain}', displayName: '{device}', rewrite: 'missing' }, envelopeSender: 'sender' });
    assert.deepEqual(config.delivery.retry, { initialDelay: 30_000, maxDelay: 1_800_000, factor: 2, jitter: 0.2, maxAge: 172_800_000 });
    assert.equal(config.delivery.concurrency, 4);
    assert.equal(config.delivery.pollInterval, 1000);
  });

  it('resolves dataDir and file account directories against the configuration file folder', () => {
    const config = parse(MINIMAL);
    assert.equal(config.gateway.dataDir, join(dir.path, 'data'));
    assert.deepEqual(config.delivery.accounts[0], { name: 'files', type: 'file', directory: join(dir.path, 'out') });
  });

  it('keeps absolute paths as they are', () => {
    const config = parse(`gateway:\n  dataDir: /var/lib/annunciator\n${MINIMAL.replace('directory: out', 'directory: /srv/out')}`);
    assert.equal(config.gateway.dataDir, '/var/lib/annunciator');
    assert.equal((config.delivery.accounts[0] as { directory: string }).directory, '/srv/out');
  });

  it('parses human-friendly sizes and durations', () => {
    const text = MINIMAL.replace(
      '    trustedNetworks: [10.0.0.0/8]\n',
      '    trustedNetworks: [10.0.0.0/8]\n    limits:\n      maxMessageSize: 512KiB\n      idleTimeout: 30s\n      sessionTimeout: 1h30m\n',
    ) + '  retry:\n    initialDelay: 10s\n    maxDelay: 5m\n    maxAge: 1d\n  pollInterval: 250ms\n';
    const config = parse(text);
    assert.equal(config.listeners[0]!.limits.maxMessageSize, 512 * 1024);
    assert.equal(config.listeners[0]!.limits.idleTimeout, 30_000);
    assert.equal(config.listeners[0]!.limits.sessionTimeout, 5_400_000);
    assert.equal(config.delivery.retry.initialDelay, 10_000);
    assert.equal(config.delivery.retry.maxDelay, 300_000);
    assert.equal(config.delivery.retry.maxAge, 86_400_000);
    assert.equal(config.delivery.pollInterval, 250);
  });

  it('accepts IPv4 and IPv6 CIDR blocks and single addresses as trusted networks', () => {
    const config = parse(MINIMAL.replace('[10.0.0.0/8]', '[10.0.0.0/8, 192.168.1.7, "fd00::/8", "::1"]'));
    assert.deepEqual(config.listeners[0]!.trustedNetworks, ['10.0.0.0/8', '192.168.1.7', 'fd00::/8', '::1']);
  });

  it('reads a listener user password from the environment as a Secret', () => {
    const text = MINIMAL.replace(
      '    trustedNetworks: [10.0.0.0/8]\n',
      '    auth:\n      allowPlaintext: true\n      users:\n        - username: plc\n          password: { env: PLC_PASSWORD }\n',
    );
    const config = parse(text, { PLC_PASSWORD: 'pw-from-env' });
    const auth = config.listeners[0]!.auth;
    assert.ok(auth);
    assert.equal(auth.allowPlaintext, true);
    assert.equal(auth.users.length, 1);
    assert.equal(auth.users[0]!.username, 'plc');
    assert.ok(auth.users[0]!.password instanceof Secret);
    assert.equal(auth.users[0]!.password.reveal(), 'pw-from-env');
    assert.ok(!JSON.stringify(config).includes('pw-from-env'), 'the resolved config never prints a secret');
  });

  it('reads a secrets file relative to the configuration file', () => {
    dir.write('upstream.secret', 'pw-from-file\n');
    const config = parse(
      withAccount(`    - name: up
      host: smtp.example.com
      port: 587
      security: starttls
      auth:
        user: alarms
        password: { file: upstream.secret }
`),
    );
    const account = smtp(config);
    assert.equal(account.host, 'smtp.example.com');
    assert.equal(account.port, 587);
    assert.equal(account.security, 'starttls');
    assert.ok(account.auth && account.auth.type === 'login');
    assert.equal(account.auth.user, 'alarms');
    assert.equal(account.auth.password.reveal(), 'pw-from-file');
    assert.equal(account.connectionTimeout, 30_000);
    assert.deepEqual(account.tls, { minVersion: 'TLSv1.2', ca: [], servername: undefined, pin: undefined });
  });

  it('loads listener TLS key and certificate files as buffers', () => {
    const { key, cert } = createSelfSigned();
    dir.write('listener-cert.pem', cert);
    dir.write('listener-key.pem', key);
    const text = MINIMAL.replace(
      '    trustedNetworks: [10.0.0.0/8]\n',
      '    trustedNetworks: [10.0.0.0/8]\n    tls:\n      cert: listener-cert.pem\n      key: listener-key.pem\n    auth:\n      users:\n        - username: plc\n          password: { env: PW }\n',
    );
    const config = parse(text, { PW: 'x' });
    const tls = config.listeners[0]!.tls;
    assert.ok(tls);
    assert.equal(tls.cert.toString(), cert);
    assert.equal(tls.key.toString(), key);
    assert.equal(tls.minVersion, 'TLSv1.2');
    assert.equal(config.listeners[0]!.auth?.allowPlaintext, false);
  });

  it('treats an empty document as empty and reports what is required', () => {
    const problems = problemsOf('');
    assert.deepEqual(problems.map((p) => p.key).sort(), ['delivery', 'listeners']);
    for (const p of problems) assert.equal(p.message, 'is required');
  });
});

describe('parseConfig: presets', () => {
  it('gmail fills host, port, security and the OAuth2 token URL', () => {
    const config = parse(
      withAccount(`    - name: gmail
      preset: gmail
      auth:
        type: oauth2
        user: plant@gmail.com
        clientId: client-id
        clientSecret: { env: CLIENT_SECRET }
        refreshToken: { env: REFRESH_TOKEN }
`),
      { CLIENT_SECRET: 'cs', REFRESH_TOKEN: 'rt' },
    );
    const account = smtp(config);
    assert.equal(account.host, 'smtp.gmail.com');
    assert.equal(account.port, 465);
    assert.equal(account.security, 'tls');
    assert.ok(account.auth && account.auth.type === 'oauth2');
    assert.equal(account.auth.tokenUrl, 'https://oauth2.googleapis.com/token');
    assert.equal(account.auth.user, 'plant@gmail.com');
    assert.equal(account.auth.clientId, 'client-id');
    assert.equal(account.auth.clientSecret?.reveal(), 'cs');
    assert.equal(account.auth.refreshToken.reveal(), 'rt');
    assert.equal(account.auth.scope, undefined);
  });

  it('gmail with a password fills host, port and security', () => {
    const account = smtp(parse(withAccount(`    - name: gmail\n      preset: gmail\n      auth:\n        user: a@gmail.com\n        password: { env: APP_PW }\n`), { APP_PW: 'app' }));
    assert.equal(account.host, 'smtp.gmail.com');
    assert.equal(account.port, 465);
    assert.equal(account.security, 'tls');
    assert.ok(account.auth && account.auth.type === 'login');
  });

  it('microsoft365 fills host, port, security, the tenant token URL and the scope', () => {
    const config = parse(
      withAccount(`    - name: m365
      preset: microsoft365
      auth:
        type: oauth2
        user: alarms@plant.example.com
        tenant: contoso.onmicrosoft.com
        clientId: client-id
        refreshToken: { env: REFRESH_TOKEN }
`),
      { REFRESH_TOKEN: 'rt' },
    );
    const account = smtp(config);
    assert.equal(account.host, 'smtp.office365.com');
    assert.equal(account.port, 587);
    assert.equal(account.security, 'starttls');
    assert.ok(account.auth && account.auth.type === 'oauth2');
    assert.equal(account.auth.tokenUrl, 'https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token');
    assert.equal(account.auth.scope, 'https://outlook.office.com/SMTP.Send offline_access');
    assert.equal(account.auth.clientSecret, undefined);
  });

  it('microsoft365 without a tenant uses "common"', () => {
    const account = smtp(
      parse(withAccount(`    - name: m365\n      preset: microsoft365\n      auth:\n        type: oauth2\n        user: a@b.example\n        clientId: c\n        refreshToken: { env: RT }\n`), { RT: 'rt' }),
    );
    assert.ok(account.auth && account.auth.type === 'oauth2');
    assert.equal(account.auth.tokenUrl, 'https://login.microsoftonline.com/common/oauth2/v2.0/token');
  });

  it('lets explicit keys override the preset', () => {
    const account = smtp(
      parse(
        withAccount(`    - name: m365
      preset: microsoft365
      host: smtp-relay.example.com
      port: 2587
      security: tls
      auth:
        type: oauth2
        user: a@b.example
        clientId: c
        refreshToken: { env: RT }
        tokenUrl: https://login.example.com/token
        scope: custom-scope
`),
        { RT: 'rt' },
      ),
    );
    assert.equal(account.host, 'smtp-relay.example.com');
    assert.equal(account.port, 2587);
    assert.equal(account.security, 'tls');
    assert.ok(account.auth && account.auth.type === 'oauth2');
    assert.equal(account.auth.tokenUrl, 'https://login.example.com/token');
    assert.equal(account.auth.scope, 'custom-scope');
  });

  it('without a preset, host, port and security are each required', () => {
    const problems = problemsOf(withAccount('    - name: bare\n'));
    const byKey = new Map(problems.map((p) => [p.key, p]));
    assert.deepEqual([...byKey.keys()].sort(), ['delivery.accounts[0].host', 'delivery.accounts[0].port', 'delivery.accounts[0].security']);
    assert.match(byKey.get('delivery.accounts[0].host')!.message, /required/);
    assert.match(byKey.get('delivery.accounts[0].security')!.message, /tls.*starttls.*none/);
    // A missing key points at its account: line 8 of the file.
    for (const p of problems) assert.equal(p.line, 8);
  });

  it('OAuth2 without a preset needs a token URL', () => {
    const p = onlyProblem(
      withAccount(`    - name: own
      host: mail.example.com
      port: 465
      security: tls
      auth:
        type: oauth2
        user: a@b.example
        clientId: c
        refreshToken: { env: RT }
`),
      { RT: 'rt' },
    );
    assert.equal(p.key, 'delivery.accounts[0].auth.tokenUrl');
    assert.match(p.message, /tokenUrl|required/);
    assert.equal(p.line, 13, 'points at the auth block, the deepest existing node');
  });
});

describe('parseConfig: problems name file, line, key and problem', () => {
  it('unknown top-level key: pointed at the line it is written on, not the top of the file', () => {
    const p = onlyProblem(`${MINIMAL}colour: blue\n`);
    assert.equal(p.key, '');
    assert.equal(p.message, 'unknown key "colour" (known: gateway, store, log, listeners, relay, alarms, mqtt, devices, patterns, receivers, schedules, inhibit, http, api, replies, delivery)');
    assert.equal(p.line, MINIMAL.split('\n').length);
    assert.equal(p.column, 1);
  });

  it('unknown key in a listener names the listener and points at the key', () => {
    const p = onlyProblem(MINIMAL.replace('    port: 2525\n', '    port: 2525\n    prot: 25\n'));
    assert.equal(p.key, 'listeners[0]');
    assert.equal(p.message, 'unknown key "prot" (known: name, address, port, trustedNetworks, auth, tls, compat, limits)');
    assert.equal(p.line, 5);
    assert.equal(p.column, 5);
  });

  it('several unknown keys in one place are named together', () => {
    const p = onlyProblem(MINIMAL.replace('    port: 2525\n', '    port: 2525\n    foo: 1\n    bar: 2\n'));
    assert.equal(p.message, 'unknown keys "foo", "bar" (known: name, address, port, trustedNetworks, auth, tls, compat, limits)');
  });

  it('unknown key in an smtp account names the account and points at the key', () => {
    const p = onlyProblem(withAccount('    - name: a\n      host: h\n      port: 465\n      security: tls\n      pasword: x\n'));
    assert.equal(p.key, 'delivery.accounts[0]');
    assert.equal(p.message, 'unknown key "pasword" (known: name, type, preset, host, port, security, auth, envelopeFrom, tls, connectionTimeout)');
    assert.equal(p.line, 12);
    assert.equal(p.column, 7);
  });

  it('wrong type: a quoted port in a listener', () => {
    const p = onlyProblem(MINIMAL.replace('port: 2525', 'port: "2525"'));
    assert.equal(p.key, 'listeners[0].port');
    assert.equal(p.line, 4);
    assert.equal(p.column, 11);
    assert.equal(p.message, 'expected a number, got the text "2525"');
  });

  it('wrong type: a boolean where a list is expected', () => {
    const p = onlyProblem(MINIMAL.replace('[10.0.0.0/8]', 'yes'));
    assert.equal(p.key, 'listeners[0].trustedNetworks');
    assert.equal(p.line, 5);
    assert.equal(p.message, 'expected a list, got the text "yes"');
  });

  it('wrong enum value for the log level', () => {
    const p = onlyProblem(`log:\n  level: loud\n${MINIMAL}`);
    assert.equal(p.key, 'log.level');
    assert.equal(p.line, 2);
    assert.equal(p.message, 'expected one of trace, debug, info, warn, error or fatal, got the text "loud"');
  });

  it('an unknown key deeper down names the keys allowed in its place', () => {
    const p = onlyProblem(`${MINIMAL}gateway:\n  hostnme: gw1\n`);
    assert.equal(p.key, 'gateway');
    assert.equal(p.line, 12);
    assert.equal(p.message, 'unknown key "hostnme" (known: hostname, domain, dataDir, name)');
  });

  it('wrong types and values are said in plain words: what the key takes and what it was given', () => {
    const withLimits = (line: string): string => MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', `    trustedNetworks: [10.0.0.0/8]\n    limits:\n      ${line}\n`);
    const cases: Array<[yaml: string, key: string, line: number, message: string]> = [
      [MINIMAL.replace('port: 2525', 'port: twenty-five'), 'listeners[0].port', 4, 'expected a number, got the text "twenty-five"'],
      [MINIMAL.replace('port: 2525', 'port: 25.5'), 'listeners[0].port', 4, 'expected a whole number, got the number 25.5'],
      [MINIMAL.replace('port: 2525', 'port: 70000'), 'listeners[0].port', 4, 'must be at most 65535, got the number 70000'],
      [MINIMAL.replace('port: 2525', 'port:'), 'listeners[0].port', 4, 'expected a number, got an empty value'],
      [withLimits('maxMimeParts: 0'), 'listeners[0].limits.maxMimeParts', 7, 'must be at least 1, got the number 0'],
      [MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', '    trustedNetworks: [10.0.0.0/8]\n    auth:\n      users: []\n'), 'listeners[0].auth.users', 7, 'must not be an empty list'],
      [`${MINIMAL}  pollInterval: true\n`, 'delivery.pollInterval', 11, 'expected text or a number, got true'],
      [MINIMAL.replace('type: file', 'type: ftp'), 'delivery.accounts[0].type', 9, 'expected one of file or smtp, got the text "ftp"'],
      [MINIMAL.replace('- name: files', '- name: ""'), 'delivery.accounts[0].name', 8, 'must not be empty'],
      [withAccount('    - name: up\n      host: h\n      port: 465\n      security: tls\n      envelopeFrom: alarms\n'), 'delivery.accounts[0].envelopeFrom', 12, 'expected an email address such as alarms@plant.example, got the text "alarms"'],
    ];
    // All at once, so a failure shows every case that differs.
    assert.deepEqual(
      cases.map(([yaml]) => {
        const p = onlyProblem(yaml);
        return { key: p.key, line: p.line, message: p.message };
      }),
      cases.map(([, key, line, message]) => ({ key, line, message })),
    );
  });

  it('an invalid extraction pattern names the RE2 syntax patterns are written in, as rule files do', () => {
    const p = onlyProblem(`${MINIMAL}patterns:\n  - name: ups\n    subject: "On battery (?=now)"\n`);
    assert.equal(p.key, 'patterns[0].subject');
    assert.equal(p.line, 13);
    assert.equal(
      p.message,
      'invalid regular expression /On battery (?=now)/: error parsing regexp: invalid or unsupported Perl syntax: `(?=` (patterns use RE2 syntax: no lookaround, no backreferences; (?i) for ignoring case)',
    );
  });

  it('a malformed duration says what is expected', () => {
    const p = onlyProblem(`${MINIMAL}  pollInterval: soon\n`);
    assert.equal(p.key, 'delivery.pollInterval');
    assert.equal(p.line, 11);
    assert.match(p.message, /"soon" is not a duration/);
  });

  it('a zero or malformed size is refused', () => {
    for (const size of ['0', '10XB']) {
      const p = onlyProblem(MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', `    trustedNetworks: [10.0.0.0/8]\n    limits:\n      maxMessageSize: ${size}\n`));
      assert.equal(p.key, 'listeners[0].limits.maxMessageSize');
      assert.equal(p.line, 7);
      assert.match(p.message, /is not a size/);
    }
  });

  it('a missing required key points at its parent', () => {
    const p = onlyProblem(MINIMAL.replace('    port: 2525\n', ''));
    assert.equal(p.key, 'listeners[0].port');
    assert.equal(p.message, 'is required');
    assert.equal(p.line, 2);
  });

  it('a bad CIDR prefix', () => {
    const p = onlyProblem(MINIMAL.replace('[10.0.0.0/8]', '[10.0.0.0/8, 10.1.0.0/33]'));
    assert.equal(p.key, 'listeners[0].trustedNetworks[1]');
    assert.equal(p.line, 5);
    assert.equal(p.column, 35);
    assert.match(p.message, /CIDR/);
  });

  it('other bad CIDR forms', () => {
    for (const bad of ['10.0.0/8', '300.1.1.1', '10.0.0.0/8/8', '10.0.0.0/', '10.0.0.0/x', '"fd00::/129"', 'plant-lan']) {
      const p = onlyProblem(MINIMAL.replace('[10.0.0.0/8]', `[${bad}]`));
      assert.equal(p.key, 'listeners[0].trustedNetworks[0]', bad);
      assert.match(p.message, /CIDR/, bad);
    }
  });

  it('a bad listener address', () => {
    const p = onlyProblem(MINIMAL.replace('address: 127.0.0.1', 'address: localhost'));
    assert.equal(p.key, 'listeners[0].address');
    assert.equal(p.line, 3);
    assert.equal(p.message, 'not an IP address');
  });

  it('a missing environment secret', () => {
    const p = onlyProblem(
      withAccount(`    - name: up
      host: smtp.example.com
      port: 465
      security: tls
      auth:
        user: alarms
        password: { env: UPSTREAM_PASSWORD }
`),
      { OTHER: 'x' },
    );
    assert.equal(p.key, 'delivery.accounts[0].auth.password');
    assert.equal(p.line, 14);
    assert.match(p.message, /UPSTREAM_PASSWORD/);
    assert.match(p.message, /not set/);
    assert.match(formatProblem(p), new RegExp(`^${FILE.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:14:\\d+: delivery\\.accounts\\[0\\]\\.auth\\.password: `));
  });

  it('a missing listener user secret', () => {
    const p = onlyProblem(
      MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', '    auth:\n      allowPlaintext: true\n      users:\n        - username: plc\n          password: { env: PLC_PW }\n'),
    );
    assert.equal(p.key, 'listeners[0].auth.users[0].password');
    assert.equal(p.line, 9);
    assert.match(p.message, /PLC_PW/);
  });

  it('a missing secrets file names the resolved path', () => {
    const p = onlyProblem(
      withAccount(`    - name: up
      host: smtp.example.com
      port: 465
      security: tls
      auth:
        user: alarms
        password: { file: secrets/nope }
`),
    );
    assert.equal(p.key, 'delivery.accounts[0].auth.password');
    assert.equal(p.line, 14);
    assert.ok(p.message.includes(join(dir.path, 'secrets', 'nope')), p.message);
    assert.match(p.message, /ENOENT/);
  });

  it('an inline listener password is refused', () => {
    const p = onlyProblem(
      MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', '    auth:\n      allowPlaintext: true\n      users:\n        - username: plc\n          password: hunter2\n'),
    );
    assert.equal(p.key, 'listeners[0].auth.users[0].password');
    assert.equal(p.line, 9);
    assert.match(p.message, /never inline/);
  });

  it('an inline account password is refused', () => {
    const problems = problemsOf(
      withAccount(`    - name: up
      host: smtp.example.com
      port: 465
      security: tls
      auth:
        user: alarms
        password: hunter2
`),
    );
    assert.ok(problems.length >= 1);
    assert.ok(!problems.some((p) => p.message.includes('hunter2')), 'the refused password is not echoed back');
  });

  it('an inline account password is refused with the key and the reason', () => {
    const p = onlyProblem(
      withAccount(`    - name: up
      host: smtp.example.com
      port: 465
      security: tls
      auth:
        user: alarms
        password: hunter2
`),
    );
    assert.equal(p.key, 'delivery.accounts[0].auth.password');
    assert.match(p.message, /never inline/);
  });

  it('a wrong type inside an smtp account names the key and the problem', () => {
    const p = onlyProblem(withAccount('    - name: up\n      host: smtp.example.com\n      port: "465"\n      security: tls\n'));
    assert.equal(p.key, 'delivery.accounts[0].port');
    assert.equal(p.message, 'expected a number, got the text "465"');
  });

  it('AUTH on a listener without TLS and without allowPlaintext', () => {
    const p = onlyProblem(
      MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', '    auth:\n      users:\n        - username: plc\n          password: { env: PLC_PW }\n'),
      { PLC_PW: 'x' },
    );
    assert.equal(p.key, 'listeners[0].auth');
    assert.equal(p.line, 6);
    assert.match(p.message, /STARTTLS/);
    assert.match(p.message, /allowPlaintext/);
  });

  it('missing listener TLS files are named', () => {
    const problems = problemsOf(
      MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', '    trustedNetworks: [10.0.0.0/8]\n    tls:\n      cert: no-cert.pem\n      key: no-key.pem\n'),
    );
    assert.deepEqual(problems.map((p) => p.key), ['listeners[0].tls.cert', 'listeners[0].tls.key']);
    assert.ok(problems[0]!.message.includes(join(dir.path, 'no-cert.pem')));
    assert.equal(problems[0]!.line, 7);
    assert.equal(problems[1]!.line, 8);
  });

  it('an unknown fallback character set', () => {
    const p = onlyProblem(MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', '    trustedNetworks: [10.0.0.0/8]\n    compat:\n      fallbackCharset: klingon-8\n'));
    assert.equal(p.key, 'listeners[0].compat.fallbackCharset');
    assert.equal(p.line, 7);
    assert.match(p.message, /klingon-8/);
  });

  const withCompat = (lines: string): string => MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', `    trustedNetworks: [10.0.0.0/8]\n    compat:\n${lines}`);

  it('bare-LF and early-talker leniency limited to device addresses and networks inside trustedNetworks', () => {
    const listener = parse(withCompat('      bareLf: [10.1.2.57, 10.1.3.0/24]\n      earlyTalkers: false\n')).listeners[0]!;
    assert.deepEqual(listener.compat.bareLf, ['10.1.2.57', '10.1.3.0/24']);
    assert.equal(listener.compat.earlyTalkers, false);
  });

  it('a leniency entry that is not an address or CIDR block is named by its key', () => {
    const p = onlyProblem(withCompat('      bareLf: [10.1.2.57, remote-io-7]\n'));
    assert.equal(p.key, 'listeners[0].compat.bareLf[1]');
    assert.match(p.message, /"remote-io-7" is not an IPv4 or IPv6 address or CIDR block/);
  });

  it('a leniency entry outside trustedNetworks is named by its key: leniency is for trusted clients only', () => {
    const p = onlyProblem(withCompat('      earlyTalkers: [10.1.0.0/16, 192.168.7.0/24]\n'));
    assert.equal(p.key, 'listeners[0].compat.earlyTalkers[1]');
    assert.match(p.message, /192\.168\.7\.0\/24 is not inside trustedNetworks/);
    // Wider than the trusted block, even though it starts inside it.
    assert.equal(onlyProblem(withCompat('      bareLf: [10.0.0.0/7]\n')).key, 'listeners[0].compat.bareLf[0]');
  });

  it('message structure limits: a bad value is named by its key', () => {
    const withLimits = (lines: string): string => MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', `    trustedNetworks: [10.0.0.0/8]\n    limits:\n${lines}`);
    const listener = parse(withLimits('      maxHeaderSize: 64KiB\n      maxMimeDepth: 8\n')).listeners[0]!;
    assert.equal(listener.limits.maxHeaderSize, 64 * 1024);
    assert.equal(listener.limits.maxMimeDepth, 8);
    assert.equal(onlyProblem(withLimits('      maxMimeParts: 0\n')).key, 'listeners[0].limits.maxMimeParts');
    assert.equal(onlyProblem(withLimits('      maxHeaderSize: lots\n')).key, 'listeners[0].limits.maxHeaderSize');
    assert.equal(onlyProblem(withLimits('      maxHeaderLines: 2.5\n')).key, 'listeners[0].limits.maxHeaderLines');
  });

  it('a leniency that is neither true, false nor a list, or an empty list, is named by its key', () => {
    const word = onlyProblem(withCompat('      bareLf: sometimes\n'));
    assert.equal(word.key, 'listeners[0].compat.bareLf');
    assert.match(word.message, /true, false, or a list of device addresses/);
    const empty = onlyProblem(withCompat('      bareLf: []\n'));
    assert.equal(empty.key, 'listeners[0].compat.bareLf');
    assert.match(empty.message, /write false/);
  });

  it('a listener without trusted networks and without AUTH could accept nobody', () => {
    const p = onlyProblem(MINIMAL.replace('    trustedNetworks: [10.0.0.0/8]\n', ''));
    assert.equal(p.key, 'listeners[0].trustedNetworks');
    assert.match(p.message, /accept nobody/);
  });

  it('duplicate listener names', () => {
    const p = onlyProblem(
      MINIMAL.replace('delivery:', '  - name: lan\n    address: 127.0.0.1\n    port: 2526\n    trustedNetworks: [10.0.0.0/8]\ndelivery:'),
    );
    assert.equal(p.key, 'listeners[1].name');
    assert.equal(p.line, 6);
    assert.match(p.message, /"lan" is used twice/);
  });

  it('duplicate account names', () => {
    const p = onlyProblem(
      withAccount(`    - name: out
      type: file
      directory: a
    - name: out
      type: file
      directory: b
`),
    );
    assert.equal(p.key, 'delivery.accounts[1].name');
    assert.equal(p.line, 11);
    assert.match(p.message, /account name "out" is used twice/);
  });

  it('security none with credentials is refused', () => {
    const p = onlyProblem(
      withAccount(`    - name: lan-relay
      host: 10.0.0.25
      port: 25
      security: none
      auth:
        user: alarms
        password: { env: PW }
`),
      { PW: 'x' },
    );
    assert.equal(p.key, 'delivery.accounts[0].auth');
    assert.equal(p.line, 13);
    assert.match(p.message, /never sent without TLS/);
  });

  it('security none without credentials is accepted', () => {
    const account = smtp(parse(withAccount('    - name: lan-relay\n      host: 10.0.0.25\n      port: 25\n      security: none\n')));
    assert.equal(account.security, 'none');
    assert.equal(account.auth, undefined);
  });

  it('collects every problem instead of stopping at the first', () => {
    const problems = problemsOf(
      `listeners:
  - name: lan
    address: 127.0.0.1
    port: 2525
    auth:
      users:
        - username: plc
          password: { env: A }
delivery:
  accounts:
    - name: up
      host: h
      port: 465
      security: tls
      auth:
        user: u
        password: { env: B }
`,
    );
    assert.deepEqual(problems.map((p) => p.key), ['listeners[0].auth.users[0].password', 'listeners[0].auth', 'delivery.accounts[0].auth.password']);
  });
});

describe('parseConfig: YAML syntax errors', () => {
  it('are reported as YAML syntax problems', () => {
    const problems = problemsOf('listeners:\n  - name: lan\n    address: [\n');
    assert.ok(problems.length >= 1);
    assert.match(problems[0]!.message, /^YAML syntax: /);
    assert.equal(problems[0]!.key, '');
  });

  it('carry a line number', () => {
    const p = onlyProblem('gateway:\n  hostname: gw\n  hostname: gw2\n');
    assert.match(p.message, /YAML syntax/);
    assert.equal(p.line, 3);
  });
});

describe('parseConfig: TLS pins', () => {
  const { cert } = createSelfSigned('mail.plant.local');
  const certFile = 'pinned.pem';
  dir.write(certFile, cert);
  const fingerprint = new X509Certificate(cert).fingerprint256;
  const pinned = (sha256: string, certificate = certFile): string =>
    withAccount(`    - name: plant
      host: mail.plant.local
      port: 587
      security: starttls
      tls:
        pin:
          sha256: "${sha256}"
          certificate: ${certificate}
`);

  it('accepts a pin that matches the certificate file', () => {
    const account = smtp(parse(pinned(fingerprint)));
    assert.ok(account.tls.pin);
    assert.equal(account.tls.pin.sha256, fingerprint);
    assert.equal(account.tls.pin.certificate.toString(), cert);
  });

  it('accepts a lower-case pin and stores it upper-case', () => {
    const account = smtp(parse(pinned(fingerprint.toLowerCase())));
    assert.equal(account.tls.pin?.sha256, fingerprint);
  });

  it('refuses a pin that does not match, naming the actual fingerprint', () => {
    const wrong = fingerprint.startsWith('00') ? `11${fingerprint.slice(2)}` : `00${fingerprint.slice(2)}`;
    const p = onlyProblem(pinned(wrong));
    assert.equal(p.key, 'delivery.accounts[0].tls.pin.sha256');
    assert.equal(p.line, 14);
    assert.match(p.message, /does not match/);
    assert.ok(p.message.includes(fingerprint), p.message);
  });

  it('refuses a pin that is not 32 hex pairs', () => {
    const p = onlyProblem(pinned('AB:CD'));
    assert.equal(p.key, 'delivery.accounts[0].tls.pin.sha256');
    assert.match(p.message, /32 hex pairs/);
  });

  it('refuses a pin certificate file that is not PEM', () => {
    dir.write('not-a-cert.pem', 'hello\n');
    const p = onlyProblem(pinned(fingerprint, 'not-a-cert.pem'));
    assert.equal(p.key, 'delivery.accounts[0].tls.pin.certificate');
    assert.match(p.message, /not a PEM certificate/);
  });

  it('refuses a missing pin certificate file', () => {
    const p = onlyProblem(pinned(fingerprint, 'absent.pem'));
    assert.equal(p.key, 'delivery.accounts[0].tls.pin.certificate');
    assert.match(p.message, /ENOENT/);
  });

  it('loads extra CA files and refuses missing ones', () => {
    dir.write('ca.pem', cert);
    const ok = smtp(parse(withAccount(`    - name: plant\n      host: h\n      port: 465\n      security: tls\n      tls:\n        ca: [ca.pem]\n        servername: mail.plant.local\n        minVersion: TLSv1.3\n`)));
    assert.equal(ok.tls.ca.length, 1);
    assert.equal(ok.tls.ca[0]!.toString(), cert);
    assert.equal(ok.tls.servername, 'mail.plant.local');
    assert.equal(ok.tls.minVersion, 'TLSv1.3');
    const p = onlyProblem(withAccount(`    - name: plant\n      host: h\n      port: 465\n      security: tls\n      tls:\n        ca: [ca.pem, missing-ca.pem]\n`));
    assert.equal(p.key, 'delivery.accounts[0].tls.ca[1]');
  });
});

describe('fingerprints', () => {
  const { cert } = createSelfSigned();
  const x509 = new X509Certificate(cert);

  it('fingerprintOfPem matches node:crypto and the openssl form', () => {
    const fp = fingerprintOfPem(Buffer.from(cert));
    assert.equal(fp, x509.fingerprint256);
    assert.match(fp!, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  });

  it('fingerprintOfPem is undefined for something that is not a certificate', () => {
    assert.equal(fingerprintOfPem(Buffer.from('not a certificate')), undefined);
  });

  it('fingerprintOfDer agrees with fingerprintOfPem', () => {
    assert.equal(fingerprintOfDer(x509.raw), x509.fingerprint256);
  });
});

describe('loadConfig', () => {
  it('names the file when it cannot be read', () => {
    const missing = join(dir.path, 'nope.yaml');
    assert.throws(
      () => loadConfig(missing, {}),
      (error: unknown) => error instanceof ConfigError && error.problems.length === 1 && error.problems[0]!.file === missing && /ENOENT/.test(error.problems[0]!.message),
    );
  });

  it('reads a file and resolves paths against its folder', () => {
    const file = dir.write('loaded.yaml', MINIMAL);
    const config = loadConfig(file, {});
    assert.equal(config.file, resolve(file));
    assert.equal(config.gateway.dataDir, join(dir.path, 'data'));
  });

  it('loads the shipped default configuration', () => {
    const file = resolve('config/annunciator.yaml');
    const config = loadConfig(file, {});
    assert.equal(config.listeners[0]!.port, 2525);
    assert.equal(config.gateway.dataDir, resolve('data'));
  });
});
