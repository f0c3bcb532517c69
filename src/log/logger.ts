import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Keys that may carry credentials or message content (compared without regard to case).
 * Their values are replaced by `[redacted]` wherever they appear in a logged object, at
 * any depth, so a careless `log.info({ account })` or `log.debug({ mail: parsed })`
 * cannot leak a password, a token or a body.
 */
export const REDACTED_KEYS: readonly string[] = [
  'password',
  'pass',
  'token',
  'accessToken',
  'refreshToken',
  'clientSecret',
  'secret',
  'authorization',
  'raw',
  'body',
  'text',
  'html',
];

export const CENSOR = '[redacted]';

/**
 * How deep the redaction walks. An object or array below it is logged as TOO_DEEP rather
 * than unchecked (pino itself prints every level), which also ends circular structures.
 */
export const DEPTH_LIMIT = 10;
export const TOO_DEEP = '[too deep to log]';

const sensitive = new Set(REDACTED_KEYS.map((key) => key.toLowerCase()));

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * `value` with the value of every key in REDACTED_KEYS replaced by CENSOR, in plain objects
 * and arrays at any depth (below DEPTH_LIMIT levels they are replaced by TOO_DEEP). Copies
 * only the objects on the way to a replaced value; returns `value` itself when there is
 * nothing to replace. Other objects (errors, buffers, class instances such as `Secret`)
 * print through their own serialization and are not walked.
 */
export function redactDeep<T>(value: T, depth = 0): T {
  if (depth > DEPTH_LIMIT) return (Array.isArray(value) || isPlainObject(value) ? TOO_DEEP : value) as T;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i += 1) {
      const item: unknown = value[i];
      const next = redactDeep(item, depth + 1);
      if (next !== item) (copy ??= value.slice())[i] = next;
    }
    return (copy ?? value) as T;
  }
  if (!isPlainObject(value)) return value;
  let copy: Record<string, unknown> | undefined;
  for (const key of Object.keys(value)) {
    const item = value[key];
    const next = sensitive.has(key.toLowerCase()) ? (item === undefined ? item : CENSOR) : redactDeep(item, depth + 1);
    if (next !== item) (copy ??= { ...value })[key] = next;
  }
  return (copy ?? value) as T;
}

export interface LogOptions {
  level: string;
  format: 'auto' | 'json' | 'pretty';
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LogOptions): Logger {
  const pretty = options.format === 'pretty' || (options.format === 'auto' && process.stdout.isTTY === true && !options.destination);
  const base = {
    level: options.level,
    base: { service: 'annunciator' },
    // The object of each call, and the root's bindings (a child's: redactChildBindings).
    formatters: { log: redactDeep, bindings: redactDeep },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (pretty) {
    return redactChildBindings(pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard', ignore: 'pid,hostname,service' } } }));
  }
  return redactChildBindings(options.destination ? pino(base, options.destination) : pino(base));
}

/**
 * pino applies `formatters.bindings` to the root logger's bindings only, not to those of
 * `child()`; redact those on the way in. Children inherit this `child` from the root.
 */
function redactChildBindings(logger: Logger): Logger {
  type Child = (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) => Logger;
  const child = logger.child as unknown as Child;
  logger.child = function (this: Logger, bindings: pino.Bindings, options?: pino.ChildLoggerOptions) {
    return child.call(this, redactDeep(bindings), options);
  } as unknown as Logger['child'];
  return logger;
}

/** A logger that drops everything, for library use and quiet tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
