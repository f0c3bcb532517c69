import type { UpstreamTls } from '../base/tls-policy.js';
import type { InhibitRule } from './inhibit.js';
import type { Secret } from './secret.js';
import type { BackoffPolicy, Role, RawConfig, RawListener, RawMqttBroker, RawSchedule } from './schema.js';

/** Configuration after loading: secrets read, paths absolute, presets applied. */

export interface ListenerUser {
  username: string;
  password: Secret;
}

export interface ListenerConfig extends Omit<RawListener, 'auth' | 'tls'> {
  auth?: { users: ListenerUser[]; allowPlaintext: boolean };
  tls?: { cert: Buffer; key: Buffer; minVersion: 'TLSv1.2' | 'TLSv1.3' };
}

export type SmtpAuth =
  | { type: 'login' | 'plain'; user: string; password: Secret }
  | {
      type: 'oauth2';
      user: string;
      clientId: string;
      clientSecret?: Secret;
      refreshToken: Secret;
      tokenUrl: string;
      scope?: string;
    };

export interface SmtpAccount {
  name: string;
  type: 'smtp';
  host: string;
  port: number;
  security: 'tls' | 'starttls' | 'none';
  auth?: SmtpAuth;
  envelopeFrom?: string;
  tls: UpstreamTls;
  connectionTimeout: number;
}

export interface FileAccount {
  name: string;
  type: 'file';
  directory: string;
}

export type Account = SmtpAccount | FileAccount;

/** What an account delivers to, as `check --json` lists it (no credentials, no TLS settings). */
export type AccountTarget = Pick<SmtpAccount, 'name' | 'type' | 'host' | 'port' | 'security'> | Pick<FileAccount, 'name' | 'type' | 'directory'>;

/** Where an account delivers, for `check` and the start-up log line: `name (host:port security)` or `name (files in DIR)`. */
export function accountSummary(account: AccountTarget): string {
  return account.type === 'file' ? `${account.name} (files in ${account.directory})` : `${account.name} (${account.host}:${account.port} ${account.security})`;
}

/**
 * How a broker's filters are subscribed: by every gateway (`all`: the only gateway, on
 * SQLite), as one member of a shared subscription group (each event goes to one member),
 * or only by the gateway that leads (`leader`: brokers without shared subscriptions; the
 * session, under one client id for all gateways, moves with the leadership).
 */
export type MqttSubscribeMode = { kind: 'all' } | { kind: 'shared'; group: string } | { kind: 'leader' };

export interface MqttBrokerConfig extends Omit<RawMqttBroker, 'password' | 'tls' | 'clientId' | 'shareGroup'> {
  clientId: string;
  subscribe: MqttSubscribeMode;
  password?: Secret;
  tls: { ca: Buffer[]; cert?: Buffer; key?: Buffer; minVersion: 'TLSv1.2' | 'TLSv1.3' };
}

/**
 * A mailbox read for replies to notifications (`replies[]`), as loaded: preset applied,
 * credentials read, TLS files read. src/ingest/imap/ watches it.
 */
export interface ReplyAccountConfig {
  name: string;
  host: string;
  port: number;
  security: 'tls' | 'starttls' | 'none';
  /** `login`: IMAP LOGIN; `plain`: AUTHENTICATE PLAIN; `oauth2`: XOAUTH2 with an access token from the token endpoint. */
  auth: SmtpAuth;
  tls: UpstreamTls;
  connectionTimeout: number;
  folder: string;
  /** Flags a processed reply gets; then it is moved to `move` when set. */
  processed: { flags: string[]; move?: string };
  pollInterval: number;
  reconnect: { initialDelay: number; maxDelay: number };
  ackWords: string[];
  allowFrom: string[];
}

/** An override with its times resolved to instants (epoch ms): it holds from `from` up to, not including, `to`. */
export interface ScheduleOverride {
  from: number;
  to: number;
  receivers: string[];
  reason?: string;
}

/** An on-call schedule as loaded: zone checked, receivers known, overrides as instants. */
export interface ScheduleConfig extends Omit<RawSchedule, 'overrides'> {
  overrides: ScheduleOverride[];
}

export interface GatewayConfig {
  /** Absolute path of the file this configuration came from. */
  file: string;
  gateway: RawConfig['gateway'];
  /** The store: its retention (pruning of what is done), and PostgreSQL instead of the SQLite file when `url` is set. */
  store: StoreConfig;
  log: RawConfig['log'];
  listeners: ListenerConfig[];
  relay: RawConfig['relay'];
  /** The alarm pipeline; absent means the gateway relays mail as it came (pass-through). */
  alarms?: RawConfig['alarms'] & { rulesDir: string; templatesDir: string; timeZone: string };
  devices: RawConfig['devices'];
  patterns: RawConfig['patterns'];
  receivers: RawConfig['receivers'];
  /** On-call schedules; a receiver list may name one, which resolves to whoever is on call. */
  schedules: ScheduleConfig[];
  /** Inhibit rules, matchers parsed (config/inhibit.ts). */
  inhibit: InhibitRule[];
  mqtt: MqttBrokerConfig[];
  /** The HTTP server (console, API, metrics, acknowledgement links); absent means no HTTP port. */
  http?: HttpConfig;
  /** Mailboxes read for replies that acknowledge alarms (src/ingest/imap/); empty when none. */
  replies: ReplyAccountConfig[];
  delivery: {
    accounts: Account[];
    retry: BackoffPolicy;
    concurrency: number;
    pollInterval: number;
  };
}

export interface StoreConfig {
  retention: RawConfig['store']['retention'];
  /** PostgreSQL (`store.url`) instead of the SQLite file in `gateway.dataDir`. */
  postgres?: PostgresConnection;
}

/** Where the PostgreSQL store is, as loaded from `store.url`, `store.password` and `store.tls`. */
export interface PostgresConnection {
  host: string;
  port: number;
  database: string;
  user: string;
  password?: Secret;
  /** Undefined: no TLS (`security: none`, to this host or with `allowPlaintext`). */
  tls?: UpstreamTls;
  /** The URL as configured (it holds no password), for logs and `store status`. */
  url: string;
}

/** The `http` section (or its older name `api`) as loaded: secrets read and checked. */
export interface HttpConfig {
  listen: { address: string; port: number };
  /** TLS for the server itself, PEM read at load. */
  tls?: { cert: string; key: string; minVersion: 'TLSv1.2' | 'TLSv1.3' };
  /** Acknowledgement links in notifications: present with both `baseUrl` and `linkSecret`. */
  links?: AckLinkConfig;
  users: HttpUser[];
  tokens: ApiToken[];
  /** How long a console login lasts without use (ms). */
  sessionLifetime: number;
}

export interface AckLinkConfig {
  /** What links point at, without a trailing slash. */
  baseUrl: string;
  /** The HMAC key for link tokens, used as its UTF-8 bytes (at least 32). */
  key: Secret;
  /** How long a link works (ms). */
  lifetime: number;
}

export interface HttpUser {
  name: string;
  role: Role;
  /** The scrypt hash as `annunciator user hash` prints it (src/api/auth/). */
  passwordHash: Secret;
}

export interface ApiToken {
  name: string;
  role: Role;
  token: Secret;
}
