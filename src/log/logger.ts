import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Keys that may carry credentials or message content. pino removes them wherever they
 * appear, so a careless `log.info({ auth })` cannot leak a password or a body.
 */
const REDACTED_PATHS = [
  'password',
  'pass',
  'token',
  'accessToken',
  'refreshToken',
  'clientSecret',
  'raw',
  'body',
  'text',
  'html',
  '*.password',
  '*.pass',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.clientSecret',
  '*.raw',
  '*.body',
  '*.text',
  '*.html',
];

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
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (pretty) {
    return pino({ ...base, transport: { target: 'pino-pretty', options: { translateTime: 'SYS:standard', ignore: 'pid,hostname,service' } } });
  }
  return options.destination ? pino(base, options.destination) : pino(base);
}

/** A logger that drops everything, for library use and quiet tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
