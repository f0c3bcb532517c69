import { isIP } from 'node:net';
import { z } from 'zod';
import { regexProblemWithHint } from './safe-regex.js';
import { parseDuration, parseSize } from './units.js';

/**
 * The shape of `config/*.yaml` as written by people. Loading (config/load.ts) turns it
 * into the resolved `GatewayConfig`: secrets read, paths made absolute, presets applied.
 */

const duration = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const ms = parseDuration(value);
    if (ms === undefined) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration (use e.g. 30s, 10m, 2h, 2d or milliseconds)` });
      return z.NEVER;
    }
    return ms;
  });

const size = z
  .union([z.string(), z.number()])
  .transform((value, ctx) => {
    const bytes = parseSize(value);
    if (bytes === undefined || bytes <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a size (use e.g. 10MiB, 512KiB or bytes)` });
      return z.NEVER;
    }
    return bytes;
  });

export function isCidr(value: string): boolean {
  const [address, prefix, ...rest] = value.split('/');
  if (rest.length > 0 || address === undefined) return false;
  const family = isIP(address);
  if (family === 0) return false;
  if (prefix === undefined) return true;
  if (!/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

const cidr = z.string().refine(isCidr, { message: 'not an IPv4 or IPv6 address or CIDR block (e.g. 10.0.0.0/8, fd00::/8)' });

/** Who a leniency applies to: all trusted clients, none, or those in these networks. */
const leniency = z.union([z.boolean(), z.array(z.string())], { message: 'true, false, or a list of device addresses and CIDR blocks, e.g. [10.1.2.57, 10.1.3.0/24]' }).superRefine((value, ctx) => {
  if (!Array.isArray(value)) return;
  if (value.length === 0) ctx.addIssue({ code: 'custom', message: 'an empty list: write false to turn the leniency off' });
  value.forEach((entry, i) => {
    if (!isCidr(entry)) ctx.addIssue({ code: 'custom', path: [i], message: `"${entry}" is not an IPv4 or IPv6 address or CIDR block (e.g. 10.1.2.57, 10.1.3.0/24)` });
  });
});

export const secretSourceSchema = z.union(
  [z.strictObject({ env: z.string().min(1) }), z.strictObject({ file: z.string().min(1) })],
  { message: 'a secret is given as { env: VARIABLE } or { file: path }, never inline' },
);

/**
 * `type` picks the shape of a union (with a default when absent), so an error inside it
 * names its key instead of a generic "invalid input" for the whole union.
 */
function withDefaultType<T extends z.ZodType>(defaultType: string, schema: T) {
  return z.preprocess(
    (value) => (value !== null && typeof value === 'object' && !Array.isArray(value) && !('type' in value) ? { ...value, type: defaultType } : value),
    schema,
  );
}

const tlsVersion = z.enum(['TLSv1.2', 'TLSv1.3']);

/** A server's own certificate (PEM files) and the lowest TLS version it accepts: SMTP listeners and the HTTP server. */
const serverTlsSchema = z.strictObject({
  cert: z.string().min(1),
  key: z.string().min(1),
  minVersion: tlsVersion.default('TLSv1.2'),
});

const listenerSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, dot, dash and underscore'),
  address: z.string().refine((a) => isIP(a) !== 0, 'not an IP address'),
  port: z.number().int().min(0).max(65535),
  trustedNetworks: z.array(cidr).default([]),
  auth: z
    .strictObject({
      users: z.array(z.strictObject({ username: z.string().min(1), password: secretSourceSchema })).min(1),
      allowPlaintext: z.boolean().default(false),
    })
    .optional(),
  tls: serverTlsSchema.optional(),
  /**
   * Leniencies for devices that do not speak SMTP quite right, for trusted clients only:
   * `true` for every client in trustedNetworks, `false` for none, or a list of the addresses
   * and CIDR blocks (inside trustedNetworks) of the devices that need it.
   */
  compat: z
    .strictObject({
      earlyTalkers: leniency.default(true),
      bareLf: leniency.default(true),
      fallbackCharset: z.string().default('windows-1252'),
    })
    .prefault({}),
  limits: z
    .strictObject({
      maxMessageSize: size.default(10 * 1024 * 1024),
      maxRecipients: z.number().int().min(1).max(10_000).default(100),
      maxConnections: z.number().int().min(1).default(200),
      maxConnectionsPerClient: z.number().int().min(1).default(20),
      /**
       * The structure of a message, checked while DATA streams in and refused at its end
       * (ingest/smtp/mime-structure.ts): per header block (the message's own, each MIME
       * part's), its lines and bytes; how deep MIME parts nest; how many there are.
       * Above what the mail parser takes (about 1 MiB of header per block counting each
       * line as at least 64 bytes; 1000 parts) a message is accepted but cannot be decoded,
       * and becomes an "undecodable mail" alarm instead.
       */
      maxHeaderLines: z.number().int().min(10).default(1000),
      maxHeaderSize: size.default(128 * 1024),
      maxMimeDepth: z.number().int().min(1).default(20),
      maxMimeParts: z.number().int().min(1).default(200),
      idleTimeout: duration.default(60_000),
      sessionTimeout: duration.default(600_000),
    })
    .prefault({}),
});

const backoffSchema = z
  .strictObject({
    initialDelay: duration.default(30_000),
    maxDelay: duration.default(30 * 60_000),
    factor: z.number().min(1).max(10).default(2),
    jitter: z.number().min(0).max(1).default(0.2),
    maxAge: duration.default(2 * 86_400_000),
  })
  .prefault({});

const passwordAuth = z.strictObject({
  type: z.enum(['login', 'plain']),
  user: z.string().min(1),
  password: secretSourceSchema,
});

const oauth2Auth = z.strictObject({
  type: z.literal('oauth2'),
  user: z.string().min(1),
  clientId: z.string().min(1),
  clientSecret: secretSourceSchema.optional(),
  refreshToken: secretSourceSchema,
  tokenUrl: z.url({ protocol: /^https?$/ }).optional(),
  tenant: z.string().min(1).optional(),
  scope: z.string().optional(),
});

/** TLS towards a server the gateway connects to: an SMTP upstream or an IMAP mailbox (`replies`). */
const upstreamTlsSchema = z
  .strictObject({
    minVersion: tlsVersion.default('TLSv1.2'),
    ca: z.array(z.string().min(1)).default([]),
    servername: z.string().optional(),
    pin: z
      .strictObject({
        sha256: z.string().regex(/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/, 'a SHA-256 fingerprint as 32 hex pairs separated by colons'),
        certificate: z.string().min(1),
      })
      .optional(),
  })
  .prefault({});

const smtpAccountSchema = z.strictObject({
  name: z.string().min(1),
  type: z.literal('smtp'),
  preset: z.enum(['gmail', 'microsoft365']).optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  security: z.enum(['tls', 'starttls', 'none']).optional(),
  auth: withDefaultType('login', z.discriminatedUnion('type', [oauth2Auth, passwordAuth])).optional(),
  envelopeFrom: z.email().optional(),
  tls: upstreamTlsSchema,
  connectionTimeout: duration.default(30_000),
});

const fileAccountSchema = z.strictObject({
  name: z.string().min(1),
  type: z.literal('file'),
  directory: z.string().min(1),
});

export const accountSchema = withDefaultType('smtp', z.discriminatedUnion('type', [fileAccountSchema, smtpAccountSchema]));

const addressTemplate = z.string().min(1);

export const SEVERITIES = ['critical', 'major', 'minor', 'warning', 'info'] as const;
export const severitySchema = z.enum(SEVERITIES);

const pattern = z.string().min(1).superRefine((source, ctx) => {
  const problem = regexProblemWithHint(source);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const name = z.string().regex(/^[A-Za-z0-9_.:@-]+$/, 'use letters, digits and . _ - : @');

/**
 * An extraction pattern: regular expressions over the subject and/or body, all of
 * which must match. Named groups set fields (code, severity, value, unit, state, key,
 * or any other name); `set` gives fixed values, e.g. `state: cleared` for the message
 * that reports the return to normal.
 */
export const extractionPatternSchema = z.strictObject({
  name: z.string().min(1),
  subject: pattern.optional(),
  body: pattern.optional(),
  ignoreCase: z.boolean().default(true),
  set: z
    .strictObject({
      key: z.string().min(1).optional(),
      code: z.string().min(1).optional(),
      severity: severitySchema.optional(),
      state: z.enum(['active', 'cleared']).optional(),
      unit: z.string().optional(),
      title: z.string().min(1).optional(),
    })
    .default({}),
}).refine((p) => p.subject !== undefined || p.body !== undefined, { message: 'a pattern needs subject, body or both' });

const deviceSchema = z.strictObject({
  id: name,
  name: z.string().min(1).optional(),
  match: z
    .strictObject({
      senders: z.array(z.string().min(1)).default([]),
      addresses: z.array(z.string().refine((v) => isCidr(v), 'not an IP address or CIDR block')).default([]),
      helos: z.array(z.string().min(1)).default([]),
    })
    .refine((m) => m.senders.length + m.addresses.length + m.helos.length > 0, { message: 'match needs senders, addresses or helos' }),
  site: z.string().optional(),
  area: z.string().optional(),
  description: z.string().optional(),
  patterns: z.array(extractionPatternSchema).default([]),
});

const receiverSchema = z
  .strictObject({
    name,
    email: z.union([z.email(), z.array(z.email())]).optional(),
    members: z.array(name).optional(),
  })
  .refine((r) => r.email !== undefined || r.members !== undefined, { message: 'a receiver needs email, members or both' });

const weekdaySchema = z.enum(['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']);
const timeOfDaySchema = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a time of day as HH:MM, 00:00 to 23:59');

/**
 * An on-call schedule (rules/oncall.ts), usable wherever a receiver is named. At a time:
 * an override covering it wins, else the first window that holds it, else the
 * rotation's member, else the fallback. Times of day are the clocks of `timeZone`;
 * receiver names, zone and dates are checked in config/schedules.ts.
 */
const scheduleSchema = z.strictObject({
  name,
  timeZone: z.string().min(1),
  rotation: z
    .strictObject({
      members: z.array(name).min(1, 'a rotation needs at least one member'),
      /** weekday is optional: when given, `start` must be that day and `every` whole weeks. */
      handoff: z.strictObject({ weekday: weekdaySchema.optional(), time: timeOfDaySchema }),
      every: duration.default(7 * 86_400_000),
      /** The date the first member's first shift begins, at the handoff time. */
      start: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'a date as YYYY-MM-DD'),
    })
    .optional(),
  windows: z
    .array(
      z.strictObject({
        name: z.string().min(1).optional(),
        /** The days a window begins on; one whose `to` is not after `from` ends the next day. */
        days: z.array(weekdaySchema).min(1, 'name at least one day'),
        from: timeOfDaySchema,
        to: timeOfDaySchema,
        receivers: z.array(name).min(1, 'name at least one receiver'),
      }),
    )
    .default([]),
  overrides: z
    .array(
      z.strictObject({
        /** ISO 8601; without an offset, a wall-clock time in the schedule's zone. */
        from: z.string().min(1),
        to: z.string().min(1),
        receivers: z.array(name).min(1, 'name at least one receiver'),
        reason: z.string().min(1).optional(),
      }),
    )
    .default([]),
  fallback: z.array(name).default([]),
});

const FINGERPRINT_FIELDS = ['device', 'title', 'code', 'key', 'site', 'area'] as const;

/** Fields a group key may name: the alarm's identity, or `fields.NAME`. */
export const GROUP_FIELDS = ['device', 'device.name', 'site', 'area', 'severity', 'title', 'key', 'code'] as const;

/** Grouping of a route (a rule's `then.group`, `defaultRoute.group`): lifecycle/batch.ts. */
export const groupSchema = z.strictObject({
  by: z
    .array(z.string().refine((f) => (GROUP_FIELDS as readonly string[]).includes(f) || /^fields\.[^.\s]+$/.test(f), { message: `group by ${GROUP_FIELDS.join(', ')} or fields.NAME` }))
    .default([]),
  wait: duration.refine((ms) => ms > 0, 'a wait above zero, e.g. 30s'),
});

const routeDefaultsSchema = z.strictObject({
  receivers: z.array(name).optional(),
  template: z.string().min(1).default('default'),
  repeatInterval: duration.default(4 * 3_600_000),
  notifyResolved: z.boolean().default(true),
  attachOriginal: z.boolean().default(false),
  mode: z.enum(['notify', 'passthrough']).default('notify'),
  severity: severitySchema.default('warning'),
  /** An escalation policy (rule files' `escalations:`) for alarms no rule gives one. */
  escalation: name.optional(),
  /** Grouping for alarms no rule groups (or ungroups with `group: false`). */
  group: groupSchema.optional(),
});

/**
 * How to read one topic filter's payloads. `topic` names its segments, e.g.
 * `plant/{site}/{line}/{device}/alarm`; `{name}` is a single level (`+`), a final `{name...}` or `#` the rest.
 */
const topicTemplate = z
  .string()
  .min(1)
  .refine((t) => t.split('/').every((level, i, all) => /^(\{[A-Za-z_]\w*\}|[^+#{}]*|#|\{[A-Za-z_]\w*\.\.\.\})$/.test(level) && (!/^(#|\{\w+\.\.\.\})$/.test(level) || i === all.length - 1)), {
    message: 'topic levels are literal, {name} (one level), or a last {name...} or # (the rest)',
  });

const valueMap = z.record(z.string(), z.enum(['active', 'cleared']));

const mqttMappingBase = {
  topic: topicTemplate,
  /** Device id: a template over topic segments and payload paths, e.g. "{device}" or "{json.device.id}". */
  device: z.string().min(1).default('{device}'),
  title: z.string().min(1).optional(),
  key: z.string().min(1).optional(),
  severity: severitySchema.optional(),
  unit: z.string().optional(),
};

const jsonMappingSchema = z.strictObject({
  ...mqttMappingBase,
  format: z.literal('json'),
  /** Dotted paths into the payload. */
  paths: z
    .strictObject({
      state: z.string().optional(),
      title: z.string().optional(),
      code: z.string().optional(),
      key: z.string().optional(),
      severity: z.string().optional(),
      value: z.string().optional(),
      unit: z.string().optional(),
      time: z.string().optional(),
      text: z.string().optional(),
    })
    .default({}),
  /** Payload state values to active/cleared; booleans and the usual words are understood without it. */
  states: valueMap.default({}),
});

const textMappingSchema = z.strictObject({
  ...mqttMappingBase,
  format: z.literal('text'),
  values: valueMap.default({ ON: 'active', OFF: 'cleared', '1': 'active', '0': 'cleared', true: 'active', false: 'cleared', ACTIVE: 'active', CLEARED: 'cleared' }),
});

const numberMappingSchema = z.strictObject({
  ...mqttMappingBase,
  format: z.literal('number'),
  /** Active at or beyond the limit; cleared only once back past limit ∓ deadband, so a value hovering at the limit does not flap. */
  limit: z.number(),
  direction: z.enum(['above', 'below']).default('above'),
  deadband: z.number().min(0).default(0),
});

export const mqttMappingSchema = z.discriminatedUnion('format', [jsonMappingSchema, textMappingSchema, numberMappingSchema]);

const mqttBrokerSchema = z.strictObject({
  name: name.default('mqtt'),
  url: z.string().regex(/^(mqtts?|wss?):\/\/[^\s]+$/, 'an mqtt://, mqtts://, ws:// or wss:// URL'),
  /** Default: `annunciator`; on a PostgreSQL store with a shared group, `annunciator-<host name>` (each member of a group needs its own session). */
  clientId: z.string().min(1).max(128).optional(),
  /**
   * Several gateways on one database: the group of an MQTT shared subscription
   * (`$share/<group>/<filter>`), so that the broker gives each event to one gateway of the
   * group. `false`: plain subscriptions, which on a PostgreSQL store only the leader holds.
   * Default: `annunciator` on a PostgreSQL store with protocolVersion 5, else false.
   */
  shareGroup: z.union([z.string().regex(/^[^/+#$\s]+$/, 'a group name has no / + # $ or spaces'), z.literal(false)]).optional(),
  username: z.string().optional(),
  password: secretSourceSchema.optional(),
  protocolVersion: z.union([z.literal(4), z.literal(5)]).default(4),
  keepalive: duration.default(30_000),
  tls: z
    .strictObject({
      ca: z.array(z.string().min(1)).default([]),
      cert: z.string().optional(),
      key: z.string().optional(),
      minVersion: tlsVersion.default('TLSv1.2'),
    })
    .prefault({}),
  reconnect: z.strictObject({ initialDelay: duration.default(1000), maxDelay: duration.default(60_000) }).prefault({}),
  maxPayloadSize: size.default(64 * 1024),
  /** How often a topic's bad payloads are logged: once per interval, with the count. */
  badPayloadLogInterval: duration.default(60_000),
  subscriptions: z.array(mqttMappingSchema).min(1, 'subscribe to at least one topic'),
  publish: z
    .strictObject({
      enabled: z.boolean().default(true),
      prefix: z.string().regex(/^[^+#]+$/, 'no wildcards in a prefix').default('annunciator'),
      qos: z.union([z.literal(0), z.literal(1)]).default(1),
    })
    .prefault({}),
});

const alarmsSchema = z.strictObject({
  rulesDir: z.string().min(1).default('../rules'),
  templatesDir: z.string().min(1).default('../templates'),
  /** IANA zone for dates in notifications and time-of-day conditions; the system's when absent. */
  timeZone: z.string().optional(),
  locale: z.string().default('en-GB'),
  fingerprint: z.union([z.literal('auto'), z.array(z.union([z.enum(FINGERPRINT_FIELDS), z.string().regex(/^fields\.[^.]+$/)])).min(1)]).default('auto'),
  defaultRoute: routeDefaultsSchema.prefault({}),
  watch: z.boolean().default(true),
  /** When an alarm is acknowledged, tell the receivers it was sent to (who, how, when). */
  notifyOnAck: z.boolean().default(true),
  /**
   * How much of the device's text a notification quotes and an alarm keeps (UTF-8 bytes),
   * cut at a line boundary with a note saying so and how long the whole text is.
   */
  maxQuotedText: size.default(16 * 1024),
  /** Group and digest notifications (lifecycle/batch.ts): their template set and how many alarms one lists. */
  grouping: z
    .strictObject({
      template: z.string().min(1).default('group'),
      maxListed: z.number().int().positive().default(50),
    })
    .prefault({}),
  /** Per device or site: more than `limit` notifications within `window` switch it to a digest every `digestInterval`, until its rate falls. */
  floodControl: z
    .strictObject({
      enabled: z.boolean().default(true),
      per: z.enum(['device', 'site']).default('device'),
      limit: z.number().int().positive().default(30),
      window: duration.refine((ms) => ms > 0, 'a window above zero, e.g. 1m').default(60_000),
      digestInterval: duration.refine((ms) => ms > 0, 'an interval above zero, e.g. 5m').default(300_000),
    })
    .prefault({}),
});

/**
 * An inhibit rule: while an active alarm matches `source`, alarms matching `target` with
 * the same `equal` fields are not notified. Matchers are `field=value`, `field!=value` or
 * `field~regex`; config/inhibit.ts parses and checks them.
 */
const inhibitRuleSchema = z.strictObject({
  name,
  source: z.array(z.string().min(1)).min(1, 'name at least one matcher for the inhibiting alarm'),
  target: z.array(z.string().min(1)).min(1, 'name at least one matcher for the inhibited alarms'),
  equal: z.array(z.string().min(1)).default([]),
});

/** A role of a console or API user: viewer reads, responder also acknowledges, silences and works the queue, admin also reloads and reads the audit log. */
export const roleSchema = z.enum(['viewer', 'responder', 'admin']);

const listenSchema = z.strictObject({
  address: z.string().refine((a) => isIP(a) !== 0, 'not an IP address'),
  port: z.number().int().min(0).max(65535),
});

/**
 * The HTTP server (src/api/): the web console, API v1, `/metrics`, `/-/healthy`,
 * `/-/ready` and the acknowledgement links. Optional: without it no HTTP port is opened;
 * the embedded default has it on 127.0.0.1:9525. Links in notifications need `baseUrl`
 * (what links in mails point at; a reverse proxy in front may add TLS and a path prefix)
 * and `linkSecret` (the HMAC key). Anything but a loopback address needs `users`.
 */
const httpSchema = z.strictObject({
  listen: listenSchema.default({ address: '127.0.0.1', port: 9525 }),
  /** TLS for the server itself; without it plain HTTP (put a reverse proxy with TLS in front). */
  tls: serverTlsSchema.optional(),
  baseUrl: z.url({ protocol: /^https?$/, error: 'an http:// or https:// URL, e.g. https://alarms.plant.example.com' }).optional(),
  linkSecret: secretSourceSchema.optional(),
  linkLifetime: duration.default(7 * 86_400_000),
  /** People who log in to the console and the API; the password as a scrypt hash (`annunciator user hash`). */
  users: z
    .array(
      z.strictObject({
        name,
        role: roleSchema,
        passwordHash: secretSourceSchema,
      }),
    )
    .default([]),
  /** Bearer tokens for scripts (`Authorization: Bearer TOKEN`), each with a role. */
  tokens: z
    .array(
      z.strictObject({
        name,
        role: roleSchema,
        token: secretSourceSchema,
      }),
    )
    .default([]),
  /** How long a console login lasts without use. */
  sessionLifetime: duration.default(12 * 3_600_000),
});

/**
 * The older name of the `http` section (the acknowledgement-link server before the
 * console): `listen`, `baseUrl` and `linkSecret` were required there.
 */
const apiSchema = z.strictObject({
  listen: listenSchema,
  baseUrl: z.url({ protocol: /^https?$/, error: (issue) => (issue.input === undefined ? 'is required' : 'an http:// or https:// URL, e.g. https://alarms.plant.example.com') }),
  linkSecret: secretSourceSchema,
  linkLifetime: duration.default(7 * 86_400_000),
});

/** An IMAP flag a processed reply gets: `\Seen`, `\Flagged`, `\Answered`, or a keyword such as `$AnnunciatorDone`. */
const imapFlag = z.string().regex(/^(\\(Seen|Flagged|Answered)|[^\\\s(){%*"\]]+)$/, 'an IMAP flag: \\Seen, \\Flagged, \\Answered or a keyword such as $AnnunciatorDone');

/**
 * A mailbox the gateway reads replies to its notifications from (IMAP, src/ingest/imap/):
 * a reply whose first word is an acknowledgement word acknowledges the alarm it answers.
 * Connection and credentials as for an outgoing account; `processed` marks what was read.
 */
const replyAccountSchema = z.strictObject({
  name,
  preset: z.enum(['gmail', 'microsoft365']).optional(),
  host: z.string().min(1).optional(),
  port: z.number().int().min(1).max(65535).optional(),
  /** `tls` (implicit, 993) unless said otherwise; `none` sends the password in clear. */
  security: z.enum(['tls', 'starttls', 'none']).optional(),
  /** `security: none` to a host other than this one: only with this explicit opt-in. */
  allowPlaintext: z.boolean().default(false),
  auth: withDefaultType('login', z.discriminatedUnion('type', [oauth2Auth, passwordAuth])),
  tls: upstreamTlsSchema,
  connectionTimeout: duration.default(30_000),
  folder: z.string().min(1).default('INBOX'),
  /** Flags added to each reply read (default `$AnnunciatorDone` and `\Seen`, or `\Seen` with `move`), then moved to `move` if set. */
  processed: z
    .strictObject({
      flags: z.array(imapFlag).min(1, 'name at least one flag').optional(),
      move: z.string().min(1).optional(),
    })
    .prefault({}),
  /** How often the folder is searched when the server has no IDLE, and as a safety net when it has. */
  pollInterval: duration.default(60_000),
  reconnect: z.strictObject({ initialDelay: duration.default(1000), maxDelay: duration.default(300_000) }).prefault({}),
  /** The first word of a reply that acknowledges (any case). */
  ackWords: z.array(z.string().regex(/^[^\s>]+$/, 'one word')).min(1).default(['ACK', 'OK', 'ACKNOWLEDGE']),
  /** Addresses (or `*@domain`) that may acknowledge any alarm, besides the addresses an alarm was sent to. */
  allowFrom: z.array(z.union([z.email(), z.string().regex(/^\*@[A-Za-z0-9.-]+\.[A-Za-z0-9-]+$/)], { message: 'an address or *@domain' })).default([]),
});

export const configSchema = z.strictObject({
  gateway: z
    .strictObject({
      hostname: z.string().regex(/^[A-Za-z0-9.-]+$/, 'a host name').default('annunciator.localdomain'),
      domain: z.string().regex(/^[A-Za-z0-9.-]+$/, 'a mail domain').default('annunciator.localdomain'),
      dataDir: z.string().min(1).default('data'),
      /**
       * This gateway's name among several on one PostgreSQL store (`store status`, the
       * `gateways` table, outbox claims): unique per gateway. Host name and process id when absent.
       */
      name: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'letters, digits and . _ : - (at most 100)').optional(),
    })
    .prefault({}),
  store: z
    .strictObject({
      /**
       * PostgreSQL instead of the SQLite file in gateway.dataDir, for gateways sharing one
       * database: `postgres://user@host:5432/database` (no password in it: `password`).
       */
      url: z
        .string()
        .regex(/^postgres(ql)?:\/\/\S+$/, 'a postgres:// URL, e.g. postgres://annunciator@db.plant.example:5432/annunciator')
        .optional(),
      password: secretSourceSchema.optional(),
      /** `tls` (verified, as for the upstream accounts) unless said otherwise; `none` sends the password in clear. */
      security: z.enum(['tls', 'none']).default('tls'),
      /** `security: none` to a host other than this one: only with this explicit opt-in. */
      allowPlaintext: z.boolean().default(false),
      tls: upstreamTlsSchema,
      /**
       * How long what is done is kept: a gateway that runs for years stays as fast and as
       * small as on day one. Pending work (messages not processed, notifications not sent,
       * active alarms and the messages they were raised by) is never pruned.
       */
      retention: z
        .strictObject({
          /** Processed and rejected messages as they came in (the raw mails, MQTT payloads). */
          messages: duration.default(30 * 86_400_000),
          /** Sent and failed notifications, with their delivery record. */
          notifications: duration.default(30 * 86_400_000),
          /** Resolved alarms with their history, and the groups and digests that went out. */
          resolvedAlarms: duration.default(90 * 86_400_000),
          /** How often pruning runs (a bounded batch each time; sooner while more is due). */
          every: duration.default(3_600_000),
        })
        .prefault({}),
    })
    .prefault({}),
  log: z
    .strictObject({
      level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal']).default('info'),
      format: z.enum(['auto', 'json', 'pretty']).default('auto'),
    })
    .prefault({}),
  listeners: z.array(listenerSchema).min(1, 'at least one listener is needed'),
  relay: z
    .strictObject({
      from: z
        .strictObject({
          address: addressTemplate.default('{device}@{domain}'),
          displayName: z.string().default('{device}'),
          rewrite: z.enum(['missing', 'always']).default('missing'),
        })
        .prefault({}),
      envelopeSender: z.enum(['sender', 'reply-to', 'none']).default('sender'),
      recipients: z.array(z.email()).optional(),
      allowedRecipientDomains: z.array(z.string().min(1)).optional(),
    })
    .prefault({}),
  alarms: alarmsSchema.optional(),
  mqtt: z.array(mqttBrokerSchema).default([]),
  devices: z.array(deviceSchema).default([]),
  patterns: z.array(extractionPatternSchema).default([]),
  receivers: z.array(receiverSchema).default([]),
  schedules: z.array(scheduleSchema).default([]),
  inhibit: z.array(inhibitRuleSchema).default([]),
  http: httpSchema.optional(),
  /** The older name of `http`. */
  api: apiSchema.optional(),
  /** Mailboxes read for replies that acknowledge alarms. */
  replies: z.array(replyAccountSchema).default([]),
  delivery: z.strictObject({
    accounts: z.array(accountSchema).min(1, 'at least one outgoing account is needed'),
    retry: backoffSchema,
    concurrency: z.number().int().min(1).max(64).default(4),
    pollInterval: duration.default(1000),
  }),
});

export type RawConfig = z.output<typeof configSchema>;
export type RawListener = z.output<typeof listenerSchema>;
export type RawAccount = z.output<typeof accountSchema>;
export type RawSmtpAccount = z.output<typeof smtpAccountSchema>;
export type BackoffPolicy = z.output<typeof backoffSchema>;
export type Severity = z.output<typeof severitySchema>;
export type ExtractionPattern = z.output<typeof extractionPatternSchema>;
export type DeviceConfig = z.output<typeof deviceSchema>;
export type ReceiverConfig = z.output<typeof receiverSchema>;
export type RawSchedule = z.output<typeof scheduleSchema>;
export type AlarmsConfig = z.output<typeof alarmsSchema>;
export type RouteDefaults = z.output<typeof routeDefaultsSchema>;
export type MqttMapping = z.output<typeof mqttMappingSchema>;
export type RawMqttBroker = z.output<typeof mqttBrokerSchema>;
export type RawHttp = z.output<typeof httpSchema>;
export type Role = z.output<typeof roleSchema>;
export type RawReplyAccount = z.output<typeof replyAccountSchema>;
