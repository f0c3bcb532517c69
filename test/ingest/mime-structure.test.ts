import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundaryOf, MimeStructure, type StructureLimits } from '../../src/ingest/smtp/mime-structure.js';
import { loadCorpus } from '../helpers/corpus.js';

const LIMITS: StructureLimits = { maxHeaderLines: 1000, maxHeaderSize: 128 * 1024, maxMimeDepth: 20, maxMimeParts: 200 };

function scan(message: string | Buffer, limits: StructureLimits = LIMITS, chunkSize?: number): MimeStructure {
  const bytes = Buffer.isBuffer(message) ? message : Buffer.from(message, 'latin1');
  const structure = new MimeStructure(limits);
  if (chunkSize === undefined) structure.write(bytes);
  else for (let i = 0; i < bytes.length; i += chunkSize) structure.write(bytes.subarray(i, i + chunkSize));
  structure.end();
  return structure;
}

/** A multipart/mixed nested `depth` levels deep, each level opening the next. */
function nested(depth: number): string {
  let text = 'Subject: nested\r\n';
  for (let i = 0; i < depth; i += 1) text += `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\n`;
  text += 'Content-Type: text/plain\r\n\r\ninnermost\r\n';
  for (let i = depth - 1; i >= 0; i -= 1) text += `--b${i}--\r\n`;
  return text;
}

/** One multipart/mixed with `count` text parts. */
function manyParts(count: number, contentType = 'multipart/mixed; boundary="sep"', boundary = 'sep'): string {
  let text = `Subject: parts\r\nContent-Type: ${contentType}\r\n\r\npreamble\r\n`;
  for (let i = 0; i < count; i += 1) text += `--${boundary}\r\nContent-Type: text/plain\r\n\r\npart ${i}\r\n`;
  return `${text}--${boundary}--\r\nepilogue\r\n`;
}

describe('MimeStructure: limits checked while DATA streams in', () => {
  it('lets every mail of the device corpus through with the default limits', () => {
    for (const mail of loadCorpus()) assert.equal(scan(mail.raw).violation, undefined, mail.file);
  });

  it('refuses a header block of 20,000 lines with 552 naming maxHeaderLines', () => {
    const bomb = `Subject: bomb\r\n${Array.from({ length: 20_000 }, (_, i) => `X-Pad-${i}: v\r\n`).join('')}\r\nbody\r\n`;
    const violation = scan(bomb).violation;
    assert.equal(violation?.limit, 'maxHeaderLines');
    assert.equal(violation?.code, 552);
    assert.match(violation?.reply ?? '', /^5\.3\.4 .*1000 lines \(limit maxHeaderLines\)/);
  });

  it('counts the header lines of every part, not only of the message', () => {
    const part = `--p\r\nContent-Type: text/plain\r\n${'X-Pad: v\r\n'.repeat(30)}\r\nx\r\n`;
    const message = `Subject: x\r\nContent-Type: multipart/mixed; boundary=p\r\n\r\n${part}${part}--p--\r\n`;
    assert.equal(scan(message, { ...LIMITS, maxHeaderLines: 40 }).violation, undefined);
    assert.equal(scan(message, { ...LIMITS, maxHeaderLines: 30 }).violation?.limit, 'maxHeaderLines');
  });

  it('refuses a header block over maxHeaderSize, even one line that never ends', () => {
    assert.equal(scan(`Subject: x\r\nX-Long: ${'a'.repeat(2000)}\r\n\r\n`, { ...LIMITS, maxHeaderSize: 1024 }).violation?.limit, 'maxHeaderSize');
    const endless = scan(`Subject: ${'a'.repeat(5000)}`, { ...LIMITS, maxHeaderSize: 1024 }, 100);
    assert.equal(endless.violation?.limit, 'maxHeaderSize');
    assert.match(endless.violation?.reply ?? '', /^5\.3\.4 .*1024 bytes \(limit maxHeaderSize\)/);
  });

  it('does not count the body against the header limits', () => {
    assert.equal(scan(`Subject: x\r\n\r\n${'line\r\n'.repeat(50_000)}`).violation, undefined);
  });

  it('refuses parts nested 5,000 deep with 554 naming maxMimeDepth, and takes 20 levels', () => {
    const violation = scan(nested(5000)).violation;
    assert.equal(violation?.limit, 'maxMimeDepth');
    assert.equal(violation?.code, 554);
    assert.match(violation?.reply ?? '', /^5\.6\.0 .*20 levels deep \(limit maxMimeDepth\)/);
    assert.equal(scan(nested(20)).violation, undefined);
    assert.equal(scan(nested(21)).violation?.limit, 'maxMimeDepth');
  });

  it('refuses 50,000 parts with 554 naming maxMimeParts, and takes the message and 199 parts', () => {
    const violation = scan(manyParts(50_000)).violation;
    assert.equal(violation?.limit, 'maxMimeParts');
    assert.equal(violation?.code, 554);
    assert.match(violation?.reply ?? '', /^5\.6\.0 More than 200 MIME parts \(limit maxMimeParts\)/);
    assert.equal(scan(manyParts(199)).violation, undefined);
    assert.equal(scan(manyParts(200)).violation?.limit, 'maxMimeParts');
  });

  it('follows a boundary split into RFC 2231 sections, as the parser does', () => {
    const split = manyParts(300, 'multipart/mixed; boundary*0="se"; boundary*1="p"', 'sep');
    assert.equal(scan(split).violation?.limit, 'maxMimeParts');
  });

  it('descends into an embedded message (message/rfc822) and counts its parts', () => {
    const inner = manyParts(150);
    const outer = `Subject: fwd\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--outer\r\nContent-Type: message/rfc822\r\n\r\n${inner}--outer--\r\n`;
    assert.equal(scan(outer, { ...LIMITS, maxMimeParts: 150 }).violation?.limit, 'maxMimeParts');
    assert.equal(scan(outer, { ...LIMITS, maxMimeParts: 160 }).violation, undefined);
  });

  it('treats a base64-encoded embedded message as opaque', () => {
    const outer = `Subject: fwd\r\nContent-Type: multipart/mixed; boundary=outer\r\n\r\n--outer\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\nU3ViamVjdDogeA0KDQp5DQo=\r\n--outer--\r\n`;
    assert.equal(scan(outer, { ...LIMITS, maxMimeDepth: 1 }).violation, undefined);
  });

  it('gives the same answer however the data is cut into chunks, and with bare LF line endings', () => {
    const message = nested(21);
    for (const size of [1, 3, 64, 1000]) assert.equal(scan(message, LIMITS, size).violation?.limit, 'maxMimeDepth', `chunks of ${size}`);
    assert.equal(scan(message.replace(/\r\n/g, '\n')).violation?.limit, 'maxMimeDepth');
    assert.equal(scan(nested(20), LIMITS, 7).violation, undefined);
  });

  it('ignores lines that look like boundaries of multiparts that are not open', () => {
    assert.equal(scan(`Subject: x\r\n\r\n${'--sep\r\nContent-Type: text/plain\r\n\r\n'.repeat(500)}`).violation, undefined);
  });
});

describe('boundaryOf', () => {
  it('reads plain, quoted and RFC 2231 boundaries', () => {
    assert.equal(boundaryOf('multipart/mixed; boundary=abc'), 'abc');
    assert.equal(boundaryOf('multipart/mixed; charset=x; BOUNDARY="a b;c"'), 'a b;c');
    assert.equal(boundaryOf('multipart/mixed;\r\n boundary*0="ab"; boundary*1=cd'), 'abcd');
    assert.equal(boundaryOf("multipart/mixed; boundary*=utf-8''a%20b"), 'a b');
    assert.equal(boundaryOf('multipart/mixed'), undefined);
  });
});
