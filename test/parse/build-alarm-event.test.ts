import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import type { Received } from '../../src/ingest/received.js';
import { buildAlarmEvent } from '../../src/parse/build-alarm-event.js';
import { bodyFields } from '../../src/parse/body-fields.js';
import { seededRandom } from '../helpers/seeded-random.js';
import { decodeMail } from '../../src/parse/decode-mail.js';
import { DeviceMap } from '../../src/parse/device-map.js';
import { compilePatterns } from '../../src/parse/extractor.js';
import { normaliseSeverity } from '../../src/parse/severity.js';
import { loadCorpus } from '../helpers/corpus.js';
import { REPO_ROOT } from '../helpers/gateway-process.js';

const config = loadConfig(join(REPO_ROOT, 'config/annunciator.yaml'), {});
const devices = new DeviceMap(config.devices, compilePatterns(config.patterns));
const corpus = loadCorpus();

async function eventFor(file: string, peer = { address: '10.0.0.9', helo: 'device' }) {
  const mail = corpus.find((m) => m.file === file)!;
  const received: Received = {
    id: 'R1',
    receivedAt: Date.UTC(2026, 10, 24, 2, 15),
    listener: 'lan',
    peer: { ...peer, port: 1025, secure: false },
    envelope: { mailFrom: mail.mailFrom, rcptTo: mail.rcptTo },
    raw: mail.raw,
  };
  return buildAlarmEvent(received, await decodeMail(mail.raw, 'windows-1252'), devices);
}

describe('alarm events from the device corpus, with the shipped device map', () => {
  it('UPS on battery: device, site, key, code, severity and body fields', async () => {
    const e = await eventFor('ups-on-battery.eml');
    assert.equal(e.device.id, 'ups-hall2');
    assert.equal(e.device.site, 'Plant North');
    assert.equal(e.device.matchedBy, 'sender');
    assert.equal(e.key, 'ups-on-battery');
    assert.equal(e.code, '0x0109');
    assert.equal(e.state, 'active');
    assert.equal(e.severity, 'major');
    assert.equal(e.fields.Location, 'Hall 2, electrical room');
    assert.equal(e.fields.Contact, 'facility team');
    assert.equal(e.deviceTime, Date.UTC(2026, 10, 24, 2, 14, 7));
    assert.deepEqual(e.patterns, ['on-battery', 'event-code']);
  });

  it('UPS back on line: the same key, cleared', async () => {
    const e = await eventFor('ups-back-on-line.eml');
    assert.equal(e.key, 'ups-on-battery');
    assert.equal(e.state, 'cleared');
    assert.equal(e.code, '0x010A');
  });

  it('S7 motor overtemperature: value, unit and named groups as fields', async () => {
    const e = await eventFor('s7-tmail-no-date.eml');
    assert.equal(e.device.id, 'plc-line4');
    assert.equal(e.severity, 'critical');
    assert.equal(e.value, 142);
    assert.equal(e.unit, 'C');
    assert.equal(e.fields.motor, 'M12');
    assert.equal(e.fields.limit, '130');
    assert.equal(e.fields.Station, 'Line4 / Cabinet +A12');
    assert.equal(e.deviceTime, undefined, 'the PLC gave no date');
  });

  it('German boiler fault: decoded title, Alarmklasse A read as critical', async () => {
    const e = await eventFor('encoded-word-qp.eml');
    assert.equal(e.title, 'Störung Kessel 1: Druck zu hoch');
    assert.equal(e.device.id, 'hmi-kessel');
    assert.equal(e.severity, 'critical');
    assert.equal(e.fields.equipment, 'Kessel 1');
  });

  it('cold-room logger: value and the CSV attachment by reference', async () => {
    const e = await eventFor('datalogger-csv-attachment.eml');
    assert.equal(e.value, 9.4);
    assert.equal(e.fields.limit, '8.0');
    assert.deepEqual(e.attachments, [{ index: 0, filename: 'cold-room-3.csv', contentType: 'text/csv', size: 50 }]);
  });

  it('a severity tag in the subject, from the global patterns', async () => {
    const e = await eventFor('folded-subject-utf8.eml');
    assert.equal(e.severity, 'critical');
  });

  it('HTML-only mail: its text is the HTML rendered as text', async () => {
    const e = await eventFor('hmi-html-only.eml');
    assert.match(e.text, /Compressor C2 oil pressure low \(1\.1 bar\)/);
    assert.doesNotMatch(e.text, /<b>/);
  });

  it('an unknown device is named by its sender address', async () => {
    const e = await eventFor('remote-io-di-bare-lf.eml');
    assert.equal(e.device.id, 'iologik-07@plant.local');
    assert.equal(e.device.matchedBy, 'fallback');
    assert.equal(e.fields.Event, 'DI-3 changed OFF->ON');
  });

  it('a device without a subject: the Controllino, by its sender', async () => {
    const e = await eventFor('controllino-bare.eml');
    assert.equal(e.device.id, 'controllino-pump-house');
    assert.equal(e.title, 'a Horse');
  });
});

describe('device map', () => {
  const map = new DeviceMap([
    { id: 'by-ip', match: { senders: [], addresses: ['10.1.0.0/16'], helos: [] }, patterns: [] },
    { id: 'by-helo', match: { senders: [], addresses: [], helos: ['WAGO-750'] }, patterns: [] },
    { id: 'by-domain', match: { senders: ['*@ups.plant.local'], addresses: [], helos: [] }, patterns: [] },
  ]);

  it('recognises a device by client address, HELO name or a sender domain', () => {
    assert.equal(map.identify({ sender: null, address: '10.1.2.3', fallbackName: 'x' }).device.id, 'by-ip');
    assert.equal(map.identify({ sender: 'x@y', address: '10.9.9.9', helo: 'wago-750', fallbackName: 'x' }).device.id, 'by-helo');
    assert.equal(map.identify({ sender: 'UPS7@ups.plant.local', address: '10.9.9.9', fallbackName: 'x' }).device.id, 'by-domain');
  });
});

describe('extraction patterns cannot stall the gateway', () => {
  it('a catastrophic pattern runs in linear time on a hostile body', () => {
    const [pattern] = compilePatterns([{ name: 'evil', body: '(a+)+$', ignoreCase: false, set: {} }]);
    const hostile = `${'a'.repeat(50_000)}b`;
    // With a backtracking engine this would not return in any useful time.
    assert.equal(pattern?.body?.test(hostile), false);
  });
});

describe('body fields and severity words', () => {
  it('takes "Key : value" lines, not times or sentences', () => {
    assert.deepEqual(bodyFields('Name     : UPS-HALL2\nStörung seit 04:12, Quittierung erforderlich.\nCold room 3: temperature 9.4 C\nAlarmklasse: A (kritisch)'), {
      Name: 'UPS-HALL2',
      Alarmklasse: 'A (kritisch)',
    });
  });

  it('reads the lines split(/\\r?\\n/) gives, on 3,000 random texts', () => {
    // The definition it replaced: every line cut out and matched.
    const FIELD_LINE = /^\s*(\p{L}[\p{L}_\-/ ]{0,38}\p{L})\s*:\s+(\S.*?)\s*$/u;
    const reference = (text: string, limit: number): Record<string, string> => {
      const fields: Record<string, string> = {};
      let count = 0;
      for (const line of text.split(/\r?\n/)) {
        const match = FIELD_LINE.exec(line);
        if (!match) continue;
        const key = match[1]!.replace(/\s+/g, ' ');
        if (key in fields) continue;
        fields[key] = match[2]!;
        if (++count >= limit) break;
      }
      return fields;
    };
    const random = seededRandom(11);
    const pieces = ['Name', 'Alarm klasse', 'Störung', ' : ', ': ', ':', '04:12', 'UPS-HALL2', ' ', '\t', '\n', '\r\n', '\r', '\r\r\n', 'value 9.4 C', 'x'];
    for (let i = 0; i < 3000; i += 1) {
      const parts: string[] = [];
      const count = Math.floor(random() * 30);
      for (let k = 0; k < count; k += 1) parts.push(pieces[Math.floor(random() * pieces.length)]!);
      const text = parts.join('');
      for (const limit of [50, 2]) assert.deepEqual(bodyFields(text, limit), reference(text, limit), JSON.stringify(text));
    }
  });

  it('maps device severity words onto the five levels', () => {
    assert.equal(normaliseSeverity('A (kritisch)'), 'critical');
    assert.equal(normaliseSeverity('Warnung'), 'warning');
    assert.equal(normaliseSeverity('MAJOR'), 'major');
    assert.equal(normaliseSeverity('whatever'), undefined);
  });
});
