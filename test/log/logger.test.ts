import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { Secret } from '../../src/config/secret.js';
import { CENSOR, createLogger, DEPTH_LIMIT, TOO_DEEP, type Logger } from '../../src/log/logger.js';

/** A JSON logger as the gateway makes it, writing into `raw` (every byte) and `lines` (parsed). */
function capture(): { logger: Logger; raw: () => string; lines: Array<Record<string, unknown>> } {
  let raw = '';
  const lines: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw += chunk.toString('utf8');
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  return { logger: createLogger({ level: 'debug', format: 'json', destination }), raw: () => raw, lines };
}

/** Values no log line may contain. */
const LEAKS = ['pw-L2-hunter2', 'tok-9f8e7d', 'BODY-TEXT-valve-7', 'HTML-BODY', 'refresh-ab12', 'Bearer eyJsecret', 'client-s3cret', 'raw-bytes-MIME'];

describe('the logger removes secrets and bodies wherever they appear', () => {
  it('redacts nested password, token and text keys, and keeps everything else', () => {
    const { logger, raw, lines } = capture();
    logger.info(
      {
        account: { name: 'plant-mail', auth: { user: 'alarms', password: 'pw-L2-hunter2' } },
        oauth: { response: { token: 'tok-9f8e7d', refreshToken: 'refresh-ab12', expiresIn: 3600 } },
        mail: { subject: 'Valve 7 stuck', parsed: { text: 'BODY-TEXT-valve-7', html: '<p>HTML-BODY</p>' } },
      },
      'nested',
    );
    const line = lines[0]!;
    assert.deepEqual(line.account, { name: 'plant-mail', auth: { user: 'alarms', password: CENSOR } });
    assert.deepEqual(line.oauth, { response: { token: CENSOR, refreshToken: CENSOR, expiresIn: 3600 } });
    assert.deepEqual(line.mail, { subject: 'Valve 7 stuck', parsed: { text: CENSOR, html: CENSOR } });
    assert.equal(line.msg, 'nested');
    for (const leak of LEAKS) assert.ok(!raw().includes(leak), `${leak} in ${raw()}`);
  });

  it('redacts at the top level, inside arrays, whatever the case of the key, and in child bindings', () => {
    const { logger, raw, lines } = capture();
    logger.warn({ password: 'pw-L2-hunter2', text: 'BODY-TEXT-valve-7', recipients: [{ to: 'a@example.com', body: 'BODY-TEXT-valve-7' }] }, 'top');
    logger.info({ request: { headers: { Authorization: 'Bearer eyJsecret', Accept: 'application/json' } } }, 'headers');
    const child = logger.child({ upstream: { clientSecret: 'client-s3cret', host: 'smtp.example.com' } });
    child.info({ message: { raw: 'raw-bytes-MIME', id: 'm1' } }, 'child');
    child.child({ session: { auth: { pass: 'pw-L2-hunter2' } } }).info('grandchild');
    assert.equal(lines[0]!.password, CENSOR);
    assert.equal(lines[0]!.text, CENSOR);
    assert.deepEqual(lines[0]!.recipients, [{ to: 'a@example.com', body: CENSOR }]);
    assert.deepEqual(lines[1]!.request, { headers: { Authorization: CENSOR, Accept: 'application/json' } });
    assert.deepEqual(lines[2]!.upstream, { clientSecret: CENSOR, host: 'smtp.example.com' });
    assert.deepEqual(lines[2]!.message, { raw: CENSOR, id: 'm1' });
    assert.deepEqual(lines[3]!.session, { auth: { pass: CENSOR } });
    assert.equal(lines.length, 4);
    for (const leak of LEAKS) assert.ok(!raw().includes(leak), `${leak} in ${raw()}`);
  });

  it('does not change the object it was given', () => {
    const { logger } = capture();
    const account = { auth: { password: 'pw-L2-hunter2' } };
    logger.info({ account }, 'x');
    assert.equal(account.auth.password, 'pw-L2-hunter2');
  });

  it(`logs a structure deeper than ${DEPTH_LIMIT} levels as "${TOO_DEEP}" rather than unchecked, and ends circular ones`, () => {
    const { logger, raw, lines } = capture();
    let deep: Record<string, unknown> = { password: 'pw-L2-hunter2' };
    for (let i = 0; i < DEPTH_LIMIT + 2; i += 1) deep = { level: deep };
    logger.info({ deep }, 'deep');
    const circular: Record<string, unknown> = { auth: { token: 'tok-9f8e7d' } };
    circular.self = circular;
    logger.info({ circular }, 'circular');
    assert.ok(raw().includes(TOO_DEEP));
    assert.equal(lines.length, 2);
    for (const leak of LEAKS) assert.ok(!raw().includes(leak), `${leak} in ${raw()}`);
  });

  it('prints a Secret as [redacted] under any key', () => {
    const { logger, raw } = capture();
    logger.info({ config: { smtp: { credential: new Secret('pw-L2-hunter2') } } }, 'secret');
    assert.ok(raw().includes('"credential":"[redacted]"'), raw());
    assert.ok(!raw().includes('pw-L2-hunter2'));
  });
});
