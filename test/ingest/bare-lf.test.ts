import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { crlfFromBareLf, type LineEndingState } from '../../src/ingest/smtp/bare-lf.js';

/** Runs every chunk through one state, as a connection does, and joins the output. */
function stream(chunks: string[], state: LineEndingState = { lastWasCr: false }): string {
  return Buffer.concat(chunks.map((c) => crlfFromBareLf(Buffer.from(c, 'latin1'), state))).toString('latin1');
}

describe('crlfFromBareLf', () => {
  it('turns every bare LF in a chunk into CRLF', () => {
    assert.equal(stream(['Subject: x\nFrom: a@b\n\nbody\n.\n']), 'Subject: x\r\nFrom: a@b\r\n\r\nbody\r\n.\r\n');
  });

  it('turns a leading bare LF into CRLF', () => {
    assert.equal(stream(['\nabc']), '\r\nabc');
  });

  it('turns consecutive bare LFs into consecutive CRLFs', () => {
    assert.equal(stream(['\n\n\n']), '\r\n\r\n\r\n');
  });

  it('leaves CRLF input alone and returns the very same buffer', () => {
    const input = Buffer.from('HELO plc\r\nMAIL FROM:<a@b>\r\n\r\n.\r\n');
    const state = { lastWasCr: false };
    const output = crlfFromBareLf(input, state);
    assert.equal(output, input, 'no copy is made when nothing changes');
    assert.equal(output.toString(), 'HELO plc\r\nMAIL FROM:<a@b>\r\n\r\n.\r\n');
  });

  it('is idempotent: converting its own output changes nothing', () => {
    const once = stream(['a\nb\r\nc\n']);
    assert.equal(stream([once]), once);
  });

  it('handles mixed line endings in one chunk', () => {
    assert.equal(stream(['a\r\nb\nc\r\nd\n']), 'a\r\nb\r\nc\r\nd\r\n');
  });

  it('leaves a lone CR as it is (only LF is repaired)', () => {
    assert.equal(stream(['a\rb']), 'a\rb');
  });

  it('does not treat an LF after CR at the end of the previous chunk as bare', () => {
    assert.equal(stream(['line one\r', '\nline two\r', '\n']), 'line one\r\nline two\r\n');
  });

  it('does treat an LF at the start of a chunk as bare when the previous chunk ended with something else', () => {
    assert.equal(stream(['line one', '\nline two']), 'line one\r\nline two');
  });

  it('does treat an LF at the start of a chunk as bare when the previous chunk ended with LF', () => {
    assert.equal(stream(['a\n', '\n.\n']), 'a\r\n\r\n.\r\n');
  });

  it('handles the DATA terminator split across chunks', () => {
    assert.equal(stream(['body\n', '.', '\n']), 'body\r\n.\r\n');
    assert.equal(stream(['body\r', '\n.\r', '\n']), 'body\r\n.\r\n');
  });

  it('gives the same result however the input is cut into chunks', () => {
    const text = 'A\nB\r\nC\r\rD\n\nE\r\n\r\n.\n';
    const whole = stream([text]);
    for (let cut = 0; cut <= text.length; cut += 1) {
      assert.equal(stream([text.slice(0, cut), text.slice(cut)]), whole, `cut at ${cut}`);
    }
    assert.equal(stream([...text]), whole, 'one byte per chunk');
  });

  it('records in the state whether the chunk ended with CR', () => {
    const state = { lastWasCr: false };
    crlfFromBareLf(Buffer.from('abc\r'), state);
    assert.equal(state.lastWasCr, true);
    crlfFromBareLf(Buffer.from('\nabc'), state);
    assert.equal(state.lastWasCr, false);
  });

  it('keeps the state over an empty chunk', () => {
    const state = { lastWasCr: false };
    crlfFromBareLf(Buffer.from('x\r'), state);
    const empty = crlfFromBareLf(Buffer.alloc(0), state);
    assert.equal(empty.length, 0);
    assert.equal(state.lastWasCr, true);
    assert.equal(crlfFromBareLf(Buffer.from('\n'), state).toString(), '\n');
  });

  it('honours a state that starts with lastWasCr true', () => {
    assert.equal(stream(['\nx'], { lastWasCr: true }), '\nx');
  });

  it('keeps 8-bit bytes unchanged', () => {
    const input = Buffer.from([0x53, 0x74, 0xf6, 0x0a, 0xff, 0x0a]);
    const output = crlfFromBareLf(input, { lastWasCr: false });
    assert.deepEqual([...output], [0x53, 0x74, 0xf6, 0x0d, 0x0a, 0xff, 0x0d, 0x0a]);
  });

  it('does not modify the input buffer', () => {
    const input = Buffer.from('a\nb\n');
    const copy = Buffer.from(input);
    crlfFromBareLf(input, { lastWasCr: false });
    assert.deepEqual(input, copy);
  });
});
