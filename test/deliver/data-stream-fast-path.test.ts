import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Transform } from 'node:stream';
import { requireCommonJs } from '../../src/base/commonjs.js';
import { installDataStreamFastPath, passesUnchanged } from '../../src/deliver/data-stream-fast-path.js';
import { seededRandom } from '../helpers/seeded-random.js';

type DataStreamClass = new () => Transform & { inByteCount: number; outByteCount: number };
const DataStream = requireCommonJs<DataStreamClass>('nodemailer/lib/smtp-connection/data-stream');

/** What SMTP's DATA needs (RFC 5321 4.5.2 and 2.3.8), written out: CRLF line ends, leading dots doubled, the end marker. */
function expected(input: Buffer): Buffer {
  const out: number[] = [];
  let prev: number | undefined;
  for (const byte of input) {
    if (prev === 0x0d && byte !== 0x0a) out.push(0x0a);
    if (byte === 0x0a && prev !== 0x0d) out.push(0x0d);
    if (byte === 0x2e && (prev === undefined || prev === 0x0a || prev === 0x0d)) out.push(0x2e);
    out.push(byte);
    prev = byte;
  }
  const end = prev === 0x0a ? '.\r\n' : prev === 0x0d ? '\n.\r\n' : '\r\n.\r\n';
  return Buffer.concat([Buffer.from(out), Buffer.from(end)]);
}

async function throughDataStream(chunks: Buffer[]): Promise<{ output: Buffer; pushed: Buffer[]; inBytes: number; outBytes: number }> {
  const stream = new DataStream();
  const pushed: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => pushed.push(chunk));
  const ended = new Promise((resolve) => stream.on('end', resolve));
  for (const chunk of chunks) stream.write(chunk);
  stream.end();
  await ended;
  return { output: Buffer.concat(pushed), pushed, inBytes: stream.inByteCount, outBytes: stream.outByteCount };
}

function randomMail(random: () => number): Buffer {
  const pieces = ['line of text', '\r\n', '\r\n', '\r\n', '.', '..', '\n', '\r', 'é', '\t', ' ', 'x'];
  const parts: string[] = [];
  const length = Math.floor(random() * 60);
  for (let i = 0; i < length; i += 1) parts.push(pieces[Math.floor(random() * pieces.length)]!);
  return Buffer.from(parts.join(''), 'utf8');
}

function split(buffer: Buffer, random: () => number): Buffer[] {
  const chunks: Buffer[] = [];
  let at = 0;
  while (at < buffer.length) {
    const size = 1 + Math.floor(random() * 12);
    chunks.push(buffer.subarray(at, at + size));
    at += size;
  }
  return chunks;
}

test('the DataStream hook is installed on the class nodemailer sends through', () => {
  assert.equal(installDataStreamFastPath(), true);
  assert.equal(installDataStreamFastPath(), true, 'installing twice is harmless');
  assert.equal((DataStream.prototype as { _transform: { name: string } })._transform.name, 'fastTransform');
});

test('passesUnchanged is false for every chunk that needs a byte inserted, and at the edges it cannot judge', () => {
  const clean = Buffer.from('Subject: a\r\n\r\nline one\r\nline two\r\n');
  assert.equal(passesUnchanged(clean, false), true);
  assert.equal(passesUnchanged(Buffer.from('a\r\n.b\r\n'), false), false, 'a dot at the start of a line');
  assert.equal(passesUnchanged(Buffer.from('.b\r\n'), false), false, 'a dot first in the message');
  assert.equal(passesUnchanged(Buffer.from('.b\r\n'), 0x0a), false, 'a dot first after a chunk that ended a line');
  assert.equal(passesUnchanged(Buffer.from('.b\r\n'), 0x41), true, 'a dot in the middle of a line split across chunks');
  assert.equal(passesUnchanged(Buffer.from('a\nb'), false), false, 'a bare LF');
  assert.equal(passesUnchanged(Buffer.from('a\rb'), false), false, 'a bare CR');
  assert.equal(passesUnchanged(Buffer.from('a\r'), false), false, 'a CR at the end: the next chunk decides');
  assert.equal(passesUnchanged(Buffer.from('\nb'), 0x0d), false, 'an LF first: judged by the original');
  assert.equal(passesUnchanged(Buffer.from('b'), 0x0d), false, 'the CR before it was bare');
});

test('a clean chunk is passed on as it came; one that needs stuffing goes through the original', async () => {
  installDataStreamFastPath();
  const clean = Buffer.from('Subject: a\r\n\r\nline\r\n');
  const result = await throughDataStream([clean, Buffer.from('.dot\r\nbare\nend')]);
  assert.equal(result.pushed[0], clean, 'the very Buffer, not a copy');
  assert.equal(result.output.toString('latin1'), 'Subject: a\r\n\r\nline\r\n..dot\r\nbare\r\nend\r\n.\r\n');
  assert.equal(result.inBytes, clean.length + 14);
  assert.equal(result.outBytes, result.output.length);
});

test('what reaches the upstream is what SMTP requires, for 2,000 random mails in random chunks', async () => {
  installDataStreamFastPath();
  const random = seededRandom(9);
  for (let i = 0; i < 2000; i += 1) {
    const mail = randomMail(random);
    const result = await throughDataStream(split(mail, random));
    assert.deepEqual(result.output.toString('latin1'), expected(mail).toString('latin1'), `mail ${i}: ${JSON.stringify(mail.toString('latin1'))}`);
    assert.equal(result.inBytes, mail.length);
    assert.equal(result.outBytes, result.output.length);
  }
});
