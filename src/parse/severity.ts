import { SEVERITIES, type Severity } from '../config/schema.js';

/**
 * Devices say severity in many ways ("A (kritisch)", "HH", "3", "Warning"); this maps
 * the common ones onto the five levels, and leaves the rest undecided.
 */
const SYNONYMS: Record<string, Severity> = {
  critical: 'critical',
  crit: 'critical',
  kritisch: 'critical',
  fatal: 'critical',
  emergency: 'critical',
  alarm: 'critical',
  hh: 'critical',
  ll: 'critical',
  a: 'critical',
  '1': 'critical',
  major: 'major',
  high: 'major',
  hoch: 'major',
  error: 'major',
  fault: 'major',
  stoerung: 'major',
  störung: 'major',
  b: 'major',
  '2': 'major',
  minor: 'minor',
  medium: 'minor',
  mittel: 'minor',
  c: 'minor',
  '3': 'minor',
  warning: 'warning',
  warn: 'warning',
  warnung: 'warning',
  low: 'warning',
  niedrig: 'warning',
  '4': 'warning',
  info: 'info',
  information: 'info',
  notice: 'info',
  hinweis: 'info',
  '5': 'info',
};

export function normaliseSeverity(value: string | undefined): Severity | undefined {
  if (value === undefined) return undefined;
  const text = value.trim().toLowerCase();
  if ((SEVERITIES as readonly string[]).includes(text)) return text as Severity;
  const direct = SYNONYMS[text];
  if (direct) return direct;
  // "A (kritisch)": take the first word that means something.
  for (const word of text.split(/[^\p{L}\p{N}]+/u)) {
    const found = word ? SYNONYMS[word] : undefined;
    if (found) return found;
  }
  return undefined;
}

const CLEARED_WORDS = new Set(['cleared', 'clear', 'ok', 'normal', 'off', 'inactive', 'resolved', 'gone', 'false', '0', 'aus', 'gehend']);

/** A state word from a device: the return-to-normal ones mean cleared, anything else active. */
export function normaliseState(value: string): 'active' | 'cleared' {
  return CLEARED_WORDS.has(value.trim().toLowerCase()) ? 'cleared' : 'active';
}
