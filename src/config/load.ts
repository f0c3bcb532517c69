import { createHash, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document } from 'yaml';
import type { z } from 'zod';
import { isPasswordHash, parsePasswordHash } from '../base/password-hash.js';
import { TrustedNetworks } from '../base/trusted-networks.js';
import { plainIssueMessage } from './plain-issues.js';
import { PRESETS } from './presets.js';
import { configSchema, type RawAccount, type RawConfig, type RawListener, type RawMqttBroker } from './schema.js';
import { resolveInhibitRules } from './inhibit.js';
import { resolveSchedules } from './schedules.js';
import { isLoopback, resolveReplyAccounts } from './replies.js';
import { resolveStore } from './store.js';
import { resolveUpstreamTls } from './upstream-tls.js';
import { readSecret, Secret, SecretUnavailable, type SecretSource } from './secret.js';
import type { Account, AckLinkConfig, GatewayConfig, HttpConfig, ListenerConfig, MqttBrokerConfig, MqttSubscribeMode, SmtpAccount, SmtpAuth } from './types.js';

export interface ConfigProblem {
  file: string;
  /** Dotted key path, e.g. `delivery.accounts[0].port`. */
  key: string;
  line?: number;
  column?: number;
  message: string;
}

/** One problem as `check --json`, a refused reload and the reload API report it. */
export interface ReportedProblem {
  file: string;
  line?: number;
  key?: string;
  problem: string;
  /** The whole line as the log and `check` show it. */
  text: string;
}

export class ConfigError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
  }

  get reported(): ReportedProblem[] {
    return this.problems.map((p) => ({ file: p.file, ...(p.line !== undefined ? { line: p.line } : {}), key: p.key, problem: p.message, text: formatProblem(p) }));
  }
}

export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line ? `${problem.file}:${problem.line}:${problem.column ?? 1}` : problem.file;
  return `${where}: ${problem.key || '(top level)'}: ${problem.message}`;
}

/** The host a URL names, '' when it names none: its text may begin like a local host and name another (`mqtt://127.0.0.1@broker.example`). */
function urlHost(url: string): string {
  try {
    return new URL(url).hostname;
  } catch {
    return '';
  }
}

export function formatKey(path: ReadonlyArray<PropertyKey>): string {
  return path
    .map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`))
    .join('');
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const absolute = resolve(file);
  return parseConfig(readConfigText(absolute), absolute, env);
}

function readConfigText(absolute: string): string {
  try {
    return readFileSync(absolute, 'utf8');
  } catch (error) {
    throw new ConfigError([{ file: absolute, key: '', message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})` }]);
  }
}

/** Parses and resolves configuration text; `file` names it in errors and anchors relative paths. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  const { raw, document, lineCounter } = validate(text, file);
  return resolveConfig(raw, file, env, document, lineCounter);
}

/** YAML syntax, then the schema: every problem with file, line, key and message. */
function validate(text: string, file: string): { raw: RawConfig; document: Document; lineCounter: LineCounter } {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((error) => {
        const pos = lineCounter.linePos(error.pos[0]);
        return { file, key: '', line: pos.line, column: pos.col, message: `YAML syntax: ${error.message.split('\n')[0]}` };
      }),
    );
  }
  const parsed = configSchema.safeParse(document.toJS() ?? {}, { error: plainIssueMessage });
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => problemFromIssue(issue, file, document, lineCounter)));
  }
  return { raw: parsed.data, document, lineCounter };
}

/**
 * Where the store is (the SQLite folder `gateway.dataDir`, resolved, or the PostgreSQL URL),
 * from a configuration file that is valid YAML and schema, without reading its secrets or
 * certificates: `store backup`, run from cron as the service user, needs no credentials.
 */
export function loadStoreLocation(file: string): { backend: 'sqlite'; dataDir: string } | { backend: 'postgres'; url: string } {
  const absolute = resolve(file);
  const { raw } = validate(readConfigText(absolute), absolute);
  if (raw.store.url !== undefined) return { backend: 'postgres', url: raw.store.url };
  return { backend: 'sqlite', dataDir: resolve(dirname(absolute), raw.gateway.dataDir) };
}

function locate(document: Document, lineCounter: LineCounter, path: ReadonlyArray<PropertyKey>): { line?: number; column?: number } {
  // Walk up to the deepest existing node so a missing key points at its parent.
  for (let depth = path.length; depth >= 0; depth -= 1) {
    const node = document.getIn(path.slice(0, depth) as unknown[], true);
    if (isNode(node) && node.range) {
      const pos = lineCounter.linePos(node.range[0]);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

function problemFromIssue(issue: z.core.$ZodIssue, file: string, document: Document, lineCounter: LineCounter): ConfigProblem {
  // The message is in plain words already (plainIssueMessage), unknown keys with the keys allowed in their place.
  const message = issue.message;
  // An unknown key is pointed at where it is written (a typo's line), not at its parent's first line.
  const at = issue.code === 'unrecognized_keys' ? locateKey(document, lineCounter, issue.path, issue.keys[0]) : undefined;
  return { file, key: formatKey(issue.path), ...(at ?? locate(document, lineCounter, issue.path)), message };
}

/** Where the key `name` of the mapping at `path` is written. */
function locateKey(document: Document, lineCounter: LineCounter, path: ReadonlyArray<PropertyKey>, name: string | undefined): { line: number; column: number } | undefined {
  const map = path.length === 0 ? document.contents : document.getIn(path as unknown[], true);
  if (name === undefined || !isMap(map)) return undefined;
  const pair = map.items.find((item) => isScalar(item.key) && String(item.key.value) === name);
  const range = pair && isNode(pair.key) ? pair.key.range : undefined;
  if (!range) return undefined;
  const pos = lineCounter.linePos(range[0]);
  return { line: pos.line, column: pos.col };
}

function resolveConfig(raw: RawConfig, file: string, env: NodeJS.ProcessEnv, document: Document, lineCounter: LineCounter): GatewayConfig {
  const problems: ConfigProblem[] = [];
  const baseDir = dirname(file);
  const resolvePath = (p: string): string => (isAbsolute(p) ? p : resolve(baseDir, p));
  const at = (path: ReadonlyArray<PropertyKey>, message: string): void => {
    problems.push({ file, key: formatKey(path), ...locate(document, lineCounter, path), message });
  };
  const secret = (source: SecretSource, path: ReadonlyArray<PropertyKey>) => {
    try {
      return readSecret(source, env, resolvePath);
    } catch (error) {
      if (error instanceof SecretUnavailable) {
        at(path, error.message);
        return undefined;
      }
      throw error;
    }
  };
  const readPem = (p: string, path: ReadonlyArray<PropertyKey>): Buffer | undefined => {
    try {
      return readFileSync(resolvePath(p));
    } catch (error) {
      at(path, `file ${resolvePath(p)} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
      return undefined;
    }
  };

  const listenerNames = new Set<string>();
  const listeners = raw.listeners.map((listener, index): ListenerConfig => {
    const path = ['listeners', index];
    if (listenerNames.has(listener.name)) at([...path, 'name'], `listener name "${listener.name}" is used twice`);
    listenerNames.add(listener.name);
    return resolveListener(listener, path, { at, secret, readPem });
  });

  const accountNames = new Set<string>();
  const accounts = raw.delivery.accounts.map((account, index): Account | undefined => {
    const path = ['delivery', 'accounts', index];
    if (accountNames.has(account.name)) at([...path, 'name'], `account name "${account.name}" is used twice`);
    accountNames.add(account.name);
    if (account.type === 'file') return { ...account, directory: resolvePath(account.directory) };
    return resolveSmtpAccount(account, path, { at, secret, readPem });
  });

  checkAlarmSections(raw, at);
  const schedules = resolveSchedules(raw, at);
  const inhibit = resolveInhibitRules(raw, at);
  const mqtt = raw.mqtt.map((broker, index): MqttBrokerConfig => {
    const path = ['mqtt', index];
    const { password, tls, clientId, shareGroup, ...rest } = broker;
    const subscribe = subscribeMode(broker, raw.store.url !== undefined);
    const ca = tls.ca.flatMap((p, i) => readPem(p, [...path, 'tls', 'ca', i]) ?? []);
    const cert = tls.cert ? readPem(tls.cert, [...path, 'tls', 'cert']) : undefined;
    const key = tls.key ? readPem(tls.key, [...path, 'tls', 'key']) : undefined;
    if (!!tls.cert !== !!tls.key) at([...path, 'tls'], 'a client certificate needs both cert and key');
    if (password && !broker.username) at([...path, 'username'], 'is required with a password');
    if (password && /^(mqtt|ws):/.test(broker.url) && !isLoopback(urlHost(broker.url))) {
      at([...path, 'url'], 'credentials are only sent over TLS (mqtts:// or wss://), or to a broker on this host');
    }
    return {
      ...rest,
      clientId: clientId ?? (subscribe.kind === 'shared' && raw.store.url !== undefined ? `annunciator-${hostname()}` : 'annunciator'),
      subscribe,
      ...(password ? { password: secret(password, [...path, 'password']) } : {}),
      tls: { ca, cert, key, minVersion: tls.minVersion },
    };
  });

  const http = raw.http || raw.api ? resolveHttp(raw, { at, secret, readPem }) : undefined;
  const store = resolveStore(raw.store, { at, secret, readPem });
  const replies = resolveReplyAccounts(raw, { at, secret, readPem });

  if (problems.length > 0) throw new ConfigError(problems);
  return {
    file,
    gateway: { ...raw.gateway, dataDir: resolvePath(raw.gateway.dataDir) },
    log: raw.log,
    listeners,
    store,
    relay: raw.relay,
    ...(raw.alarms
      ? {
          alarms: {
            ...raw.alarms,
            rulesDir: resolvePath(raw.alarms.rulesDir),
            templatesDir: resolvePath(raw.alarms.templatesDir),
            timeZone: raw.alarms.timeZone ?? Intl.DateTimeFormat().resolvedOptions().timeZone,
          },
        }
      : {}),
    devices: raw.devices,
    patterns: raw.patterns,
    receivers: raw.receivers,
    schedules,
    inhibit,
    mqtt,
    ...(http ? { http } : {}),
    replies,
    delivery: { ...raw.delivery, accounts: accounts.filter((a): a is Account => a !== undefined) },
  };
}

interface Resolvers {
  at: (path: ReadonlyArray<PropertyKey>, message: string) => void;
  secret: (source: SecretSource, path: ReadonlyArray<PropertyKey>) => ReturnType<typeof readSecret> | undefined;
  readPem: (p: string, path: ReadonlyArray<PropertyKey>) => Buffer | undefined;
}

function resolveListener(listener: RawListener, path: PropertyKey[], { at, secret, readPem }: Resolvers): ListenerConfig {
  const { auth, tls, ...rest } = listener;
  const resolved: ListenerConfig = { ...rest };
  if (auth) {
    const users = auth.users.flatMap((user, i) => {
      const password = secret(user.password, [...path, 'auth', 'users', i, 'password']);
      return password ? [{ username: user.username, password }] : [];
    });
    resolved.auth = { users, allowPlaintext: auth.allowPlaintext };
    if (!tls && !auth.allowPlaintext) {
      at([...path, 'auth'], 'AUTH needs STARTTLS (set tls.cert and tls.key) or, on a trusted wire only, allowPlaintext: true');
    }
  }
  if (tls) {
    const cert = readPem(tls.cert, [...path, 'tls', 'cert']);
    const key = readPem(tls.key, [...path, 'tls', 'key']);
    if (cert && key) resolved.tls = { cert, key, minVersion: tls.minVersion };
  }
  try {
    new TextDecoder(listener.compat.fallbackCharset);
  } catch {
    at([...path, 'compat', 'fallbackCharset'], `unknown character set "${listener.compat.fallbackCharset}"`);
  }
  for (const leniency of ['earlyTalkers', 'bareLf'] as const) {
    const setting = listener.compat[leniency];
    if (!Array.isArray(setting)) continue;
    setting.forEach((entry, i) => {
      if (!listener.trustedNetworks.some((network) => cidrInside(entry, network))) {
        at([...path, 'compat', leniency, i], `${entry} is not inside trustedNetworks: leniency is for trusted clients only`);
      }
    });
  }
  if (listener.trustedNetworks.length === 0 && !auth) {
    at([...path, 'trustedNetworks'], 'no trusted networks and no AUTH users: this listener could accept nobody');
  }
  return resolved;
}

/** Whether every address of the CIDR block `inner` lies in the block `outer` (both checked by the schema). */
function cidrInside(inner: string, outer: string): boolean {
  const [address = '', prefix] = inner.split('/');
  const [outerAddress = '', outerPrefix] = outer.split('/');
  const family = isIP(address);
  if (family !== isIP(outerAddress)) return false;
  const bits = (p: string | undefined): number => (p === undefined ? (family === 4 ? 32 : 128) : Number(p));
  // A block at least as narrow as `outer` lies in it exactly when one of its addresses does.
  return bits(prefix) >= bits(outerPrefix) && new TrustedNetworks([outer]).contains(address);
}

function resolveSmtpAccount(account: Extract<RawAccount, { type: 'smtp' }>, path: PropertyKey[], { at, secret, readPem }: Resolvers): SmtpAccount | undefined {
  const preset = account.preset ? PRESETS[account.preset] : undefined;
  const host = account.host ?? preset?.host;
  const port = account.port ?? preset?.port;
  const security = account.security ?? preset?.security;
  if (!host) at([...path, 'host'], 'is required (or set a preset)');
  if (!port) at([...path, 'port'], 'is required (or set a preset)');
  if (!security) at([...path, 'security'], 'is required: tls (implicit, port 465), starttls (port 587) or none (LAN relay only)');

  let auth: SmtpAuth | undefined;
  if (account.auth?.type === 'oauth2') {
    const a = account.auth;
    const refreshToken = secret(a.refreshToken, [...path, 'auth', 'refreshToken']);
    const clientSecret = a.clientSecret ? secret(a.clientSecret, [...path, 'auth', 'clientSecret']) : undefined;
    const tokenUrl = a.tokenUrl ?? preset?.tokenUrl(a.tenant);
    if (!tokenUrl) at([...path, 'auth', 'tokenUrl'], 'is required for OAuth2 unless a preset provides it');
    if (refreshToken && tokenUrl) {
      auth = { type: 'oauth2', user: a.user, clientId: a.clientId, clientSecret, refreshToken, tokenUrl, scope: a.scope ?? preset?.scope };
    }
  } else if (account.auth) {
    const password = secret(account.auth.password, [...path, 'auth', 'password']);
    if (password) auth = { type: account.auth.type, user: account.auth.user, password };
  }
  if (auth && security === 'none') {
    at([...path, 'auth'], 'credentials are never sent without TLS: use security tls or starttls');
  }

  const tls = resolveUpstreamTls(account.tls, path, { at, readPem });
  if (!host || !port || !security) return undefined;
  return {
    name: account.name,
    type: 'smtp',
    host,
    port,
    security,
    auth,
    envelopeFrom: account.envelopeFrom,
    tls,
    connectionTimeout: account.connectionTimeout,
  };
}

/** SHA-256 fingerprint in the colon-separated upper-case form `openssl x509 -fingerprint` prints. */
export function fingerprintOfPem(pem: Buffer): string | undefined {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch {
    return undefined;
  }
}

export function fingerprintOfDer(der: Buffer): string {
  return createHash('sha256').update(der).digest('hex').toUpperCase().match(/../g)!.join(':');
}

function checkAlarmSections(raw: RawConfig, at: (path: ReadonlyArray<PropertyKey>, message: string) => void): void {
  if (raw.alarms?.timeZone) {
    try {
      new Intl.DateTimeFormat('en', { timeZone: raw.alarms.timeZone });
    } catch {
      at(['alarms', 'timeZone'], `unknown time zone "${raw.alarms.timeZone}" (use an IANA name such as Europe/Berlin)`);
    }
  }
  const receiverNames = new Set<string>();
  raw.receivers.forEach((receiver, i) => {
    if (receiverNames.has(receiver.name)) at(['receivers', i, 'name'], `receiver "${receiver.name}" is defined twice`);
    receiverNames.add(receiver.name);
  });
  raw.receivers.forEach((receiver, i) =>
    receiver.members?.forEach((member, j) => {
      if (!receiverNames.has(member)) at(['receivers', i, 'members', j], `no receiver named "${member}"`);
    }),
  );
  const scheduleNames = new Set(raw.schedules.map((s) => s.name));
  raw.alarms?.defaultRoute.receivers?.forEach((r, i) => {
    if (!receiverNames.has(r) && !scheduleNames.has(r)) at(['alarms', 'defaultRoute', 'receivers', i], `no receiver or schedule named "${r}"`);
  });
  const brokerNames = new Set<string>();
  raw.mqtt.forEach((broker, i) => {
    if (brokerNames.has(broker.name)) at(['mqtt', i, 'name'], `broker name "${broker.name}" is used twice (each needs its own name)`);
    brokerNames.add(broker.name);
    if (!raw.alarms) at(['mqtt', i], 'MQTT alarms need the alarm pipeline: add an alarms section');
    else if (!raw.alarms.defaultRoute.receivers?.length) {
      at(['alarms', 'defaultRoute', 'receivers'], 'MQTT events have no recipients of their own: name the receivers of alarms no rule routes');
    }
  });
  const deviceIds = new Set<string>();
  raw.devices.forEach((device, i) => {
    if (deviceIds.has(device.id)) at(['devices', i, 'id'], `device "${device.id}" is defined twice`);
    deviceIds.add(device.id);
  });
}

/** HMAC-SHA256 keys shorter than the hash add no strength and are easy to guess. */
export const MIN_LINK_SECRET_BYTES = 32;
/** An API token is a password a script sends on every request: long and random, never a word. */
export const MIN_API_TOKEN_CHARS = 32;

function resolveHttp(raw: RawConfig, { at, secret, readPem }: Resolvers): HttpConfig | undefined {
  if (raw.http && raw.api) at(['api'], 'is the older name of http: keep one of the two');
  const section = raw.http ? 'http' : 'api';
  const http = raw.http ?? { ...raw.api!, users: [], tokens: [], sessionLifetime: 12 * 3_600_000 };
  let links: AckLinkConfig | undefined;
  if (http.linkSecret || http.baseUrl) {
    if (!raw.alarms) at([section], 'acknowledgement links are about alarms: add an alarms section, or remove baseUrl and linkSecret');
    if (!http.baseUrl) at([section, 'baseUrl'], 'is required with linkSecret: links are built as BASEURL/ack/TOKEN');
    if (!http.linkSecret) at([section, 'linkSecret'], 'is required with baseUrl: it signs the links');
  }
  if (http.baseUrl && http.linkSecret) {
    const url = new URL(http.baseUrl);
    if (url.search !== '' || url.hash !== '') at([section, 'baseUrl'], 'no query or fragment: links are built as BASEURL/ack/TOKEN');
    const read = secret(http.linkSecret, [section, 'linkSecret']);
    // Surrounding white space (a pasted newline) is not part of the key.
    const key = read?.reveal().trim();
    const bytes = key === undefined ? 0 : Buffer.byteLength(key, 'utf8');
    if (key !== undefined && bytes < MIN_LINK_SECRET_BYTES) {
      at([section, 'linkSecret'], `is ${bytes} bytes long; the link signing key needs at least ${MIN_LINK_SECRET_BYTES} (e.g. openssl rand -base64 48)`);
    } else if (key !== undefined) {
      links = { baseUrl: http.baseUrl.replace(/\/+$/, ''), key: new Secret(key), lifetime: http.linkLifetime };
    }
  }
  const users = http.users.flatMap((user, i) => {
    const hash = secret(user.passwordHash, [section, 'users', i, 'passwordHash']);
    if (!hash) return [];
    // Checked here so that a pasted password or a cut-off line is found by `check`, not at the first login.
    const parsed = parsePasswordHash(hash.reveal());
    if (!isPasswordHash(parsed)) {
      at([section, 'users', i, 'passwordHash'], `${parsed.problem}; make one with \`annunciator user hash\``);
      return [];
    }
    return [{ name: user.name, role: user.role, passwordHash: new Secret(hash.reveal().trim()) }];
  });
  const tokens = http.tokens.flatMap((token, i) => {
    const value = secret(token.token, [section, 'tokens', i, 'token']);
    if (!value) return [];
    const trimmed = value.reveal().trim();
    if (trimmed.length < MIN_API_TOKEN_CHARS) {
      at([section, 'tokens', i, 'token'], `is ${trimmed.length} characters long; an API token needs at least ${MIN_API_TOKEN_CHARS} (e.g. openssl rand -base64 32)`);
      return [];
    }
    return [{ name: token.name, role: token.role, token: new Secret(trimmed) }];
  });
  const names = new Set<string>();
  [...http.users, ...http.tokens].forEach((who, i) => {
    if (names.has(who.name)) at([section, i < http.users.length ? 'users' : 'tokens'], `"${who.name}" is named twice among users and tokens: the audit log could not tell them apart`);
    names.add(who.name);
  });
  // The console and API act on alarms: open to the network only with logins.
  if (!isLoopback(http.listen.address) && http.users.length + http.tokens.length === 0) {
    at([section, 'listen', 'address'], `${http.listen.address} is not a loopback address: add users (or tokens) first, anyone who can reach the port could acknowledge and silence alarms`);
  }
  let tls: HttpConfig['tls'];
  if (http.tls) {
    const cert = readPem(http.tls.cert, [section, 'tls', 'cert']);
    const key = readPem(http.tls.key, [section, 'tls', 'key']);
    if (cert && key) tls = { cert: cert.toString('utf8'), key: key.toString('utf8'), minVersion: http.tls.minVersion };
  }
  return {
    listen: http.listen,
    ...(tls ? { tls } : {}),
    ...(links ? { links } : {}),
    users,
    tokens,
    sessionLifetime: http.sessionLifetime,
  };
}

/**
 * One gateway (SQLite) subscribes to everything. Several on one database must not each
 * take every event: a shared subscription where the broker has them (MQTT 5; Mosquitto,
 * HiveMQ and EMQX take `$share/` from 3.1.1 clients too, so an explicit group is honoured
 * there), else the leader alone subscribes.
 */
function subscribeMode(broker: RawMqttBroker, severalGateways: boolean): MqttSubscribeMode {
  const group = broker.shareGroup ?? (severalGateways && broker.protocolVersion === 5 ? 'annunciator' : false);
  if (group !== false) return { kind: 'shared', group };
  return severalGateways ? { kind: 'leader' } : { kind: 'all' };
}
