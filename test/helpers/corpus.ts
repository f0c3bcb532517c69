import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceBehaviour } from './device-client.js';

export const CORPUS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'corpus');

export interface CorpusMail {
  file: string;
  raw: Buffer;
  mailFrom: string;
  rcptTo: string[];
  behaviour: DeviceBehaviour;
  /** What the device meant: decoded subject and the text a person should read. */
  subject: string;
  text: string;
}

/** What each device means to say, written out by hand from the corpus files. */
const MEANT: Record<string, { subject: string; text: string; behaviour?: DeviceBehaviour }> = {
  'controllino-bare.eml': { subject: 'a Horse', text: 'The horse does not eat cucumber salad', behaviour: 'early-pipelining' },
  'datalogger-csv-attachment.eml': { subject: 'Cold room 3 temperature alarm', text: 'Cold room 3: temperature 9.4 C above upper limit 8.0 C for 15 min.' },
  'encoded-word-qp.eml': { subject: 'Störung Kessel 1: Druck zu hoch', text: 'Kesseldruck 11,8 bar überschreitet Grenzwert 11,0 bar.\nAlarmklasse: A (kritisch)' },
  'folded-subject-utf8.eml': {
    subject: '[CRITICAL] Wastewater plant WWTP-North: influent pump station PS-2 high-high level, both duty pumps failed to start',
    text: 'Level 4.82 m (HH 4.50 m). Pumps P-201/P-202 failed to start. Überlauf droht in ~20 min.',
  },
  'hmi-html-only.eml': { subject: 'Alarm 4711 active', text: 'ALARM 4711\n\nCompressor C2 oil pressure low (1.1 bar)\n\nAreaUtilities' },
  'latin1-raw-subject.eml': { subject: 'Störung Förderband 2 - Motorschutz ausgelöst', text: 'Störung seit 04:12, Quittierung erforderlich.' },
  'remote-io-di-bare-lf.eml': { subject: 'E1212-07 DI-3 ON (Pump P3 dry run)', text: 'Event: DI-3 changed OFF->ON\nDevice: E1212-07 192.0.2.57', behaviour: 'bare-lf' },
  's7-tmail-no-date.eml': { subject: 'ALARM Line4 Motor M12 overtemperature', text: 'Motor M12 winding temperature 142 C exceeds limit 130 C.\nStation: Line4 / Cabinet +A12' },
  'ups-on-battery.eml': {
    subject: 'UPS-HALL2: On battery power in response to an input power problem.',
    text: 'Name     : UPS-HALL2\nLocation : Hall 2, electrical room\nContact  : facility team\nTime     : 11/24/2026 03:14:07\nCode     : 0x0109\n\nUPS: On battery power in response to an input power problem.',
  },
  'ups-back-on-line.eml': {
    subject: 'UPS-HALL2: No longer on battery power.',
    text: 'Name     : UPS-HALL2\nLocation : Hall 2, electrical room\nTime     : 11/24/2026 03:21:40\nCode     : 0x010A\n\nUPS: No longer on battery power.',
  },
};

function header(raw: Buffer, name: string): string | undefined {
  const match = new RegExp(`^${name}:\\s*(.*)$`, 'mi').exec(raw.toString('latin1'));
  return match?.[1]?.trim();
}

function address(value: string | undefined): string | undefined {
  if (!value) return undefined;
  return (/<([^>]+)>/.exec(value)?.[1] ?? value).trim();
}

/** Every corpus mail with its envelope, as the corpus README defines it. */
export function loadCorpus(): CorpusMail[] {
  const files = readdirSync(CORPUS_DIR).filter((f) => f.endsWith('.eml')).sort();
  return files.map((file) => {
    const raw = readFileSync(join(CORPUS_DIR, file));
    const meant = MEANT[file];
    if (!meant) throw new Error(`corpus file ${file} has no expectation in test/helpers/corpus.ts`);
    return {
      file,
      raw,
      mailFrom: address(header(raw, 'From')) ?? 'plc@plant.local',
      rcptTo: [address(header(raw, 'To')) ?? 'alarms@example.com'],
      behaviour: meant.behaviour ?? 'polite',
      subject: meant.subject,
      text: meant.text,
    };
  });
}

export function normaliseText(text: string): string {
  return text.replace(/\r\n?/g, '\n').trim();
}
