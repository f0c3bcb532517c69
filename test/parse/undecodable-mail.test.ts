import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Received } from '../../src/ingest/received.js';
import { buildAlarmEvent } from '../../src/parse/build-alarm-event.js';
import { DeviceMap } from '../../src/parse/device-map.js';
import { decodeDeviceMail, UNDECODABLE_ATTACHMENT_LIMIT } from '../../src/parse/undecodable-mail.js';
import { loadCorpus } from '../helpers/corpus.js';

/** 20,000 header lines: more than the parser takes for one header block (about 1 MiB, each line counted as at least 64 bytes). */
const headerBomb = Buffer.from(`Subject: bomb\r\n${Array.from({ length: 20_000 }, (_, i) => `X-Pad-${i}: v\r\n`).join('')}\r\nbody\r\n`);

function received(raw: Buffer, mailFrom: string | null = 'press-7@plant.local'): Received {
  return {
    id: '01UNDECODABLE',
    receivedAt: Date.UTC(2026, 10, 24, 2, 15),
    listener: 'lan',
    peer: { address: '10.0.0.9', port: 1025, helo: 'press7', secure: false },
    envelope: { mailFrom, rcptTo: ['alarms@plant.local'] },
    raw,
  };
}

const devices = new DeviceMap([{ id: 'press-7', name: 'Press 7', match: { senders: ['press-7@plant.local'], addresses: [], helos: [] }, patterns: [] }]);

describe('decodeDeviceMail', () => {
  it('decodes the corpus as decodeMail does, with nothing marked undecodable', async () => {
    for (const mail of loadCorpus()) {
      const decoded = await decodeDeviceMail(received(mail.raw), 'windows-1252');
      assert.equal(decoded.undecodable, undefined, mail.file);
      assert.equal(decoded.subject, mail.subject, mail.file);
    }
  });

  it('turns a mail the parser fails on into a notice of it, with the mail attached opaquely', async () => {
    const decoded = await decodeDeviceMail(received(headerBomb), 'windows-1252');
    assert.match(decoded.undecodable?.reason ?? '', /Max header size/);
    assert.equal(decoded.undecodable?.size, headerBomb.length);
    assert.equal(decoded.subject, 'Undecodable mail from press-7');
    assert.match(decoded.text, /accepted a mail from press-7 \(250, queued as 01UNDECODABLE\) but could not decode it: Max header size/);
    assert.match(decoded.text, /Client: 10\.0\.0\.9, HELO press7/);
    assert.equal(decoded.attachments.length, 1);
    const [attachment] = decoded.attachments;
    assert.equal(attachment?.filename, 'original.eml');
    assert.equal(attachment?.contentType, 'application/octet-stream');
    assert.ok(headerBomb.length > UNDECODABLE_ATTACHMENT_LIMIT, 'the bomb is larger than what is attached');
    assert.equal(attachment?.content.length, UNDECODABLE_ATTACHMENT_LIMIT);
    assert.deepEqual(attachment?.content, headerBomb.subarray(0, UNDECODABLE_ATTACHMENT_LIMIT));
    assert.match(decoded.text, new RegExp(`first ${UNDECODABLE_ATTACHMENT_LIMIT} of ${headerBomb.length} bytes are attached`));
  });

  it('names a device without an envelope sender by its HELO name', async () => {
    const decoded = await decodeDeviceMail(received(headerBomb, null), 'windows-1252');
    assert.equal(decoded.subject, 'Undecodable mail from press7');
    assert.match(decoded.text, /Envelope sender: <>/);
  });
});

describe('the alarm event of an undecodable mail', () => {
  it('is named after the device as the device map knows it, one alarm per message, with the reason as a field', async () => {
    const event = buildAlarmEvent(received(headerBomb), await decodeDeviceMail(received(headerBomb), 'windows-1252'), devices);
    assert.equal(event.title, 'Undecodable mail from Press 7');
    assert.equal(event.device.id, 'press-7');
    assert.equal(event.key, 'undecodable-01UNDECODABLE');
    assert.equal(event.state, 'active');
    assert.match(event.fields.decodeError ?? '', /Max header size/);
    assert.deepEqual(event.undecodable, { reason: event.fields.decodeError, size: headerBomb.length });
    assert.deepEqual(event.patterns, []);
  });
});
