import { isIP } from 'node:net';
import { PRESETS } from './presets.js';
import type { RawConfig, RawReplyAccount } from './schema.js';
import type { Secret, SecretSource } from './secret.js';
import type { ReplyAccountConfig, SmtpAuth } from './types.js';
import { resolveUpstreamTls } from './upstream-tls.js';

/** Where the providers' own mailboxes are; the token endpoints are those of the outgoing presets. */
export const IMAP_PRESETS: Record<'gmail' | 'microsoft365', { host: string; port: number; security: 'tls'; scope?: string }> = {
  gmail: { host: 'imap.gmail.com', port: 993, security: 'tls' },
  microsoft365: { host: 'outlook.office365.com', port: 993, security: 'tls', scope: 'https://outlook.office.com/IMAP.AccessAsUser.All offline_access' },
};

/** The default `processed.flags`: a keyword of our own (a person reading the mailbox does not set it) and \Seen. */
export const DEFAULT_PROCESSED_FLAGS = ['$AnnunciatorDone', '\\Seen'];

interface Resolvers {
  at: (path: ReadonlyArray<PropertyKey>, message: string) => void;
  secret: (source: SecretSource, path: ReadonlyArray<PropertyKey>) => Secret | undefined;
  readPem: (p: string, path: ReadonlyArray<PropertyKey>) => Buffer | undefined;
}

export function resolveReplyAccounts(raw: RawConfig, resolvers: Resolvers): ReplyAccountConfig[] {
  if (raw.replies.length > 0 && !raw.alarms) resolvers.at(['replies'], 'acknowledging by reply is about alarms: add an alarms section, or remove replies');
  const names = new Set<string>();
  return raw.replies.flatMap((account, index) => {
    const path = ['replies', index];
    if (names.has(account.name)) resolvers.at([...path, 'name'], `reply account name "${account.name}" is used twice`);
    names.add(account.name);
    return resolveReplyAccount(account, path, resolvers) ?? [];
  });
}

function resolveReplyAccount(account: RawReplyAccount, path: PropertyKey[], { at, secret, readPem }: Resolvers): ReplyAccountConfig | undefined {
  const preset = account.preset ? IMAP_PRESETS[account.preset] : undefined;
  const host = account.host ?? preset?.host;
  const security = account.security ?? preset?.security ?? 'tls';
  const port = account.port ?? preset?.port ?? (security === 'tls' ? 993 : 143);
  if (!host) at([...path, 'host'], 'is required (or set a preset)');

  let auth: SmtpAuth | undefined;
  if (account.auth.type === 'oauth2') {
    const a = account.auth;
    const refreshToken = secret(a.refreshToken, [...path, 'auth', 'refreshToken']);
    const clientSecret = a.clientSecret ? secret(a.clientSecret, [...path, 'auth', 'clientSecret']) : undefined;
    const tokenUrl = a.tokenUrl ?? (account.preset ? PRESETS[account.preset].tokenUrl(a.tenant) : undefined);
    if (!tokenUrl) at([...path, 'auth', 'tokenUrl'], 'is required for OAuth2 unless a preset provides it');
    if (refreshToken && tokenUrl) {
      auth = { type: 'oauth2', user: a.user, clientId: a.clientId, clientSecret, refreshToken, tokenUrl, scope: a.scope ?? preset?.scope };
    }
  } else {
    const password = secret(account.auth.password, [...path, 'auth', 'password']);
    if (password) auth = { type: account.auth.type, user: account.auth.user, password };
  }
  // As for MQTT: a password crosses the wire in clear only to this host, or when the
  // operator says the wire is trusted.
  if (security === 'none' && host && !isLoopback(host) && !account.allowPlaintext) {
    at([...path, 'security'], 'none sends the password in clear: use tls or starttls, or (a server on a trusted wire only) set allowPlaintext: true');
  }
  if (account.processed.move !== undefined && account.processed.move === account.folder) {
    at([...path, 'processed', 'move'], `is the folder that is read (${account.folder}): move processed replies to another folder`);
  }
  if (account.reconnect.initialDelay > account.reconnect.maxDelay) {
    at([...path, 'reconnect', 'initialDelay'], 'is longer than reconnect.maxDelay');
  }
  const tls = resolveUpstreamTls(account.tls, path, { at, readPem });
  if (!host || !auth) return undefined;
  const flags = account.processed.flags ?? (account.processed.move !== undefined ? ['\\Seen'] : DEFAULT_PROCESSED_FLAGS);
  return {
    name: account.name,
    host,
    port,
    security,
    auth,
    tls,
    connectionTimeout: account.connectionTimeout,
    folder: account.folder,
    processed: { flags, ...(account.processed.move !== undefined ? { move: account.processed.move } : {}) },
    pollInterval: account.pollInterval,
    reconnect: account.reconnect,
    ackWords: account.ackWords,
    allowFrom: account.allowFrom,
  };
}

/** localhost, 127.0.0.0/8 or ::1 (brackets allowed). */
export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}
