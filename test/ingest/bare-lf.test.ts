import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BareLfData } from '../../src/ingest/smtp/bare-lf.js';

/** Runs the chunks of one DATA through one instance, as a connection does, and joins the output. */
function stream(chunks: string[], data = new BareLfData()): string {
  return Buffer.concat(chunks.map((c) => data.transform(Buffer.from(c, 'latin1')))).toString('latin1');
}

/** The byte-wise rewrite alone, one byte at a time: the reference the shortcuts of `transform` must agree with. */
function byteWise(text: string, data = new BareLfData()): string {
  // `rewrite` is private to keep callers on `transform`; the test reaches it on purpose.
  const rewrite = (data as unknown as { rewrite(chunk: Buffer): Buffer }).rewrite.bind(data);
  return Buffer.concat([...Buffer.from(text, 'latin1')].map((byte) => rewrite(Buffer.from([byte])))).toString('latin1');
}

/**
 * What smtp-server makes of the rewritten data (it reads CRLF only): the message up to the
 * first `<CR><LF>.<CR><LF>` (or a first line of `.`), unstuffed, and whether DATA ended.
 */
function asSmtpServerReadsIt(rewritten: string): { message: string; ended: boolean } {
  const framed = `\r\n${rewritten}`;
  const end = framed.indexOf('\r\n.\r\n');
  const body = end >= 0 ? framed.slice(2, end + 2) : framed.slice(2);
  return { message: body.replace(/(^|\r\n)\.\./g, '$1.'), ended: end >= 0 };
}

describe('BareLfData: bare-LF message data for smtp-server', () => {
  it('turns every bare LF into CRLF, and the bare-LF end of data into the SMTP one', () => {
    assert.equal(stream(['Subject: x\nFrom: a@b\n\nbody\n.\n']), 'Subject: x\r\nFrom: a@b\r\n\r\nbody\r\n.\r\n');
  });

  it('leaves CRLF data as it is, end of data included', () => {
    const crlf = 'Subject: x\r\n\r\nbody\r\n..stuffed\r\n.\r\n';
    assert.equal(stream([crlf]), crlf);
  });

  it('is the identity on its own output (a chunk rewritten twice is not changed again)', () => {
    const once = stream(['a\nb\r\nc\n.\r\nd\r\n.\nx\n.\n']);
    assert.equal(stream([once]), once);
  });

  it('ends DATA on <LF>.<LF> and on <CR><LF>.<CR><LF>', () => {
    assert.equal(asSmtpServerReadsIt(stream(['one\n.\n'])).ended, true);
    assert.equal(asSmtpServerReadsIt(stream(['one\r\n.\r\n'])).ended, true);
  });

  it('ends an empty message on a first line of "." with either line ending', () => {
    assert.equal(stream(['.\n']), '.\r\n');
    assert.equal(stream(['.\r\n']), '.\r\n');
  });

  it('keeps <LF>.<CR><LF> as content: a line holding one dot, counted', () => {
    const data = new BareLfData();
    const out = stream(['first\n.\r\nMAIL FROM:<x@evil>\r\n'], data);
    assert.equal(out, 'first\r\n..\r\nMAIL FROM:<x@evil>\r\n');
    assert.deepEqual(asSmtpServerReadsIt(out), { message: 'first\r\n.\r\nMAIL FROM:<x@evil>\r\n', ended: false });
    assert.equal(data.mixedDotLines, 1);
  });

  it('keeps <CR><LF>.<LF> as content: a line holding one dot, counted', () => {
    const data = new BareLfData();
    const out = stream(['first\r\n.\nMAIL FROM:<x@evil>\n'], data);
    assert.equal(out, 'first\r\n..\r\nMAIL FROM:<x@evil>\r\n');
    assert.equal(asSmtpServerReadsIt(out).ended, false);
    assert.equal(data.mixedDotLines, 1);
  });

  it('a smuggled transaction between the two mixed sequences stays inside the one message', () => {
    const attack = 'Subject: first\r\n\r\nbody\n.\r\nMAIL FROM:<a@evil>\r\nRCPT TO:<b@evil>\r\nDATA\r\nSubject: smuggled\r\n\r\nx\r\n.\nQUIT\r\nreal end\r\n.\r\n';
    const { message, ended } = asSmtpServerReadsIt(stream([attack]));
    assert.equal(ended, true);
    assert.match(message, /Subject: smuggled/);
    assert.match(message, /real end\r\n$/);
  });

  it('does not count the dot lines of a device that keeps to one line ending', () => {
    for (const text of ['a\n.\n', 'a\r\n.\r\n', 'a\n..\nb\n.\n', 'a\r\n..\r\nb\r\n.\r\n']) {
      const data = new BareLfData();
      stream([text], data);
      assert.equal(data.mixedDotLines, 0, JSON.stringify(text));
    }
  });

  it('passes dot-stuffed lines and lines that begin with a dot through', () => {
    assert.equal(stream(['..x\n.y\n.\r', 'z\n']), '..x\r\n.y\r\n.\rz\r\n');
  });

  it('leaves a lone CR as it is (only LF is repaired)', () => {
    assert.equal(stream(['a\rb\n']), 'a\rb\r\n');
  });

  it('gives the same result however the input is cut into chunks', () => {
    const text = 'A\nB\r\nC\r\rD\n\nE\r\n.\n..\r\n.\rx\n.\r\nF\n.\n';
    const whole = stream([text]);
    for (let cut = 0; cut <= text.length; cut += 1) {
      assert.equal(stream([text.slice(0, cut), text.slice(cut)]), whole, `cut at ${cut}`);
    }
    assert.equal(stream([...text]), whole, 'one byte per chunk');
  });

  it('gives what one byte at a time gives, for random CRLF-heavy data cut at random (the CRLF lines a chunk starts with are passed through whole)', () => {
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const pieces = ['\r\n', '\r\n', '\r\n', 'line', '.', '\n', '\r', '\r\n.\r\n', '\n.\r\n', '\r\n.\n', '..'];
    for (let round = 0; round < 1000; round += 1) {
      const text = Array.from({ length: 1 + random(40) }, () => pieces[random(pieces.length)]).join('');
      const cuts = [...new Set(Array.from({ length: random(4) }, () => random(text.length + 1)))].sort((a, b) => a - b);
      const chunks = [0, ...cuts].map((from, i) => text.slice(from, [...cuts, text.length][i]));
      const byByte = new BareLfData();
      const byChunk = new BareLfData();
      assert.equal(stream(chunks, byChunk), byteWise(text, byByte), JSON.stringify(chunks));
      assert.equal(byChunk.mixedDotLines, byByte.mixedDotLines, JSON.stringify(chunks));
    }
  });

  it('passes a chunk of CRLF lines on as it is, without a copy', () => {
    const chunk = Buffer.from('Subject: x\r\n\r\n.. stuffed\r\nbody\r\n');
    assert.equal(new BareLfData().transform(chunk), chunk);
  });

  it('passes a chunk that ends inside a line on as it is, without a copy, and reads on from where it stopped', () => {
    const data = new BareLfData();
    const first = Buffer.from('Subject: x\r\n\r\nbody line cut in the mid');
    assert.equal(data.transform(first), first);
    const middle = Buffer.from('dle of it, with a lone \r in it');
    assert.equal(data.transform(middle), middle, 'a piece of a line with no LF is no copy either');
    assert.equal(data.transform(Buffer.from('\nnext\n')).toString(), '\r\nnext\r\n', 'the bare LF after the piece is still repaired');
    const dotted = new BareLfData();
    dotted.transform(Buffer.from('a\r\n'));
    assert.equal(dotted.transform(Buffer.from('.b')).toString(), '.b', 'a dot starting a line is held for the next byte, then passed');
  });

  it('holds a dot at the start of a line until the next chunk shows what it is', () => {
    const data = new BareLfData();
    assert.equal(data.transform(Buffer.from('body\n.')).toString(), 'body\r\n');
    assert.equal(data.transform(Buffer.from('\r')).toString(), '');
    assert.equal(data.transform(Buffer.from('\n')).toString(), '..\r\n', 'a bare LF, then a dot line ended by CRLF');
  });

  it('keeps 8-bit bytes unchanged', () => {
    const output = new BareLfData().transform(Buffer.from([0x53, 0x74, 0xf6, 0x0a, 0xff, 0x0a]));
    assert.deepEqual([...output], [0x53, 0x74, 0xf6, 0x0d, 0x0a, 0xff, 0x0d, 0x0a]);
  });

  it('does not modify the input buffer', () => {
    const input = Buffer.from('a\nb\n');
    const copy = Buffer.from(input);
    new BareLfData().transform(input);
    assert.deepEqual(input, copy);
  });
});
