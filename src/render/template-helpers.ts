import { SEVERITIES, type Severity } from '../config/schema.js';
import { formatDate, formatDuration, isDateFormat, type TimeSettings } from './format-time.js';

/**
 * The helpers every template may call. Each is total: a missing or odd argument gives an
 * empty string (or a neutral value) rather than an exception, because a notification at
 * 3 a.m. with one blank cell beats no notification. Helpers return plain strings, never
 * SafeString, so the HTML part escapes their output like any other value.
 *
 * Time zone and locale come from the render's `data` (`@timeZone`, `@locale`), not from
 * globals, so one process can render for several configurations.
 */

type Helper = (...args: unknown[]) => unknown;

interface HelperCall {
  params: unknown[];
  hash: Record<string, unknown>;
  data: Record<string, unknown>;
}

/** Handlebars passes its options object last; the parameters are what comes before. */
function call(args: unknown[]): HelperCall {
  const options = args[args.length - 1];
  const params = args.slice(0, -1);
  if (options === null || typeof options !== 'object') return { params: args, hash: {}, data: {} };
  const { hash, data } = options as { hash?: unknown; data?: unknown };
  return { params, hash: isRecord(hash) ? hash : {}, data: isRecord(data) ? data : {} };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object';
}

function settings(data: Record<string, unknown>): TimeSettings {
  return {
    timeZone: typeof data.timeZone === 'string' ? data.timeZone : 'UTC',
    locale: typeof data.locale === 'string' ? data.locale : 'en-GB',
  };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

function isSeverity(value: unknown): value is Severity {
  return typeof value === 'string' && (SEVERITIES as readonly string[]).includes(value);
}

const SEVERITY_COLORS: Record<Severity, string> = {
  critical: '#b00020',
  major: '#d35400',
  minor: '#b7950b',
  warning: '#1f618d',
  info: '#566573',
};

export const TEMPLATE_HELPERS: Readonly<Record<string, Helper>> = {
  /**
   * `{{formatDate epochMs}}` -> "Tue 24 Nov 2026 03:14:07 CET" in the configured zone and
   * locale; `{{formatDate epochMs "iso"}}` -> "2026-11-24T03:14:07+01:00";
   * `{{formatDate epochMs "time"}}` -> "03:14 CET" (for pagers). Empty for a missing time.
   */
  formatDate: (...args) => {
    const { params, data } = call(args);
    const [epochMs, format] = params;
    if (typeof epochMs !== 'number' || !Number.isFinite(epochMs)) return '';
    return formatDate(epochMs, settings(data), isDateFormat(format) ? format : 'long');
  },

  /** `{{duration ms}}` -> "45 s", "7 min 33 s", "2 h 5 min", "3 d 4 h". Empty for a non-number. */
  duration: (...args) => {
    const [ms] = call(args).params;
    return typeof ms === 'number' && Number.isFinite(ms) ? formatDuration(ms) : '';
  },

  /** `{{severityLabel severity}}` -> "CRITICAL", "MAJOR", "MINOR", "WARNING", "INFO". */
  severityLabel: (...args) => text(call(args).params[0]).toUpperCase(),

  /** `{{severityColor severity}}` -> a hex colour for the severity (info's grey for anything else); safe in a style attribute. */
  severityColor: (...args) => {
    const [severity] = call(args).params;
    return isSeverity(severity) ? SEVERITY_COLORS[severity] : SEVERITY_COLORS.info;
  },

  /** `{{#if (eq kind "resolved")}}` -> strict equality of two values. */
  eq: (...args) => {
    const [a, b] = call(args).params;
    return a === b;
  },

  /**
   * `{{join rules ", "}}` -> the list's items joined (", " when no separator is given);
   * `{{join receivers ", " key="name"}}` joins one property of each item. Empty items are left out.
   */
  join: (...args) => {
    const { params, hash } = call(args);
    const [list, separator] = params;
    if (!Array.isArray(list)) return '';
    const key = typeof hash.key === 'string' ? hash.key : undefined;
    return list
      .map((item: unknown) => text(key !== undefined && isRecord(item) ? item[key] : item))
      .filter((item) => item !== '')
      .join(typeof separator === 'string' ? separator : ', ');
  },

  /** `{{upper title}}` -> the text in capitals. */
  upper: (...args) => text(call(args).params[0]).toUpperCase(),

  /**
   * `{{count}} {{plural count "occurrence" "occurrences"}}` -> the singular for exactly 1,
   * else the plural (the singular + "s" when no plural is given). Only the word, so the
   * template decides where the number goes.
   */
  plural: (...args) => {
    const [n, singular, plural] = call(args).params;
    const one = text(singular);
    return Number(n) === 1 ? one : typeof plural === 'string' ? plural : `${one}s`;
  },

  /** `{{quote text}}` -> each line prefixed with "> " (a bare ">" for empty lines), for quoting in the text part. */
  quote: (...args) => {
    const value = text(call(args).params[0]).replace(/\r\n|\r/g, '\n').replace(/\n+$/, '');
    if (value === '') return '';
    return value
      .split('\n')
      .map((line) => (line === '' ? '>' : `> ${line}`))
      .join('\n');
  },
};

/**
 * Names Handlebars may treat as helpers when compiling: ours and the built-ins that are
 * pure. `log` is left out because it writes to the console from what must be a pure render.
 */
export function knownHelpers(): Record<string, boolean> {
  return {
    ...Object.fromEntries(Object.keys(TEMPLATE_HELPERS).map((name) => [name, true])),
    if: true,
    unless: true,
    each: true,
    with: true,
    lookup: true,
    log: false,
  };
}
