import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { format, inspect } from 'node:util';
import { readSecret, Secret, SecretUnavailable } from '../../src/config/secret.js';
import { testDir } from '../helpers/gateway.js';

const VALUE = 'hunter2-s3cret';

describe('Secret', () => {
  const secret = new Secret(VALUE);

  it('reveals its value on request', () => {
    assert.equal(secret.reveal(), VALUE);
  });

  it('does not print its value through JSON.stringify', () => {
    const json = JSON.stringify({ password: secret, nested: [secret] });
    assert.ok(!json.includes(VALUE), json);
    assert.equal(json, '{"password":"[redacted]","nested":["[redacted]"]}');
  });

  it('does not print its value through String() or a template literal', () => {
    assert.equal(String(secret), '[redacted]');
    assert.equal(`${secret}`, '[redacted]');
    assert.equal('pw=' + secret, 'pw=[redacted]');
  });

  it('does not print its value through util.inspect, util.format or console-style formatting', () => {
    assert.equal(inspect(secret), 'Secret([redacted])');
    const deep = inspect({ auth: { user: 'u', password: secret } }, { depth: 10, showHidden: true });
    assert.ok(!deep.includes(VALUE), deep);
    assert.ok(deep.includes('Secret([redacted])'), deep);
    for (const spec of ['%s', '%o', '%O', '%j']) {
      const text = format(spec, secret);
      assert.ok(!text.includes(VALUE), `${spec}: ${text}`);
    }
  });

  it('does not expose its value as an enumerable property', () => {
    assert.deepEqual(Object.keys(secret), []);
    assert.ok(!Object.values(secret).includes(VALUE));
  });

  it('does not leak into an error message built from it', () => {
    const error = new Error(`login failed with ${secret}`);
    assert.ok(!error.message.includes(VALUE));
  });
});

describe('readSecret', () => {
  const dir = testDir();
  after(() => dir.remove());
  const resolvePath = (p: string) => join(dir.path, p);

  describe('from the environment', () => {
    it('reads the variable', () => {
      const secret = readSecret({ env: 'SMTP_PASSWORD' }, { SMTP_PASSWORD: VALUE }, resolvePath);
      assert.ok(secret instanceof Secret);
      assert.equal(secret.reveal(), VALUE);
    });

    it('keeps the value exactly, including white space', () => {
      assert.equal(readSecret({ env: 'X' }, { X: ' a b \n' }, resolvePath).reveal(), ' a b \n');
    });

    it('fails with SecretUnavailable naming the variable when it is not set', () => {
      assert.throws(
        () => readSecret({ env: 'MISSING_VAR' }, {}, resolvePath),
        (error: unknown) => error instanceof SecretUnavailable && /MISSING_VAR/.test(error.message) && /not set/.test(error.message),
      );
    });

    it('fails when the variable is empty', () => {
      assert.throws(() => readSecret({ env: 'EMPTY' }, { EMPTY: '' }, resolvePath), SecretUnavailable);
    });

    it('does not read from process.env when given another environment', () => {
      process.env.ANNUNCIATOR_TEST_ONLY_IN_PROCESS = 'x';
      try {
        assert.throws(() => readSecret({ env: 'ANNUNCIATOR_TEST_ONLY_IN_PROCESS' }, {}, resolvePath), SecretUnavailable);
      } finally {
        delete process.env.ANNUNCIATOR_TEST_ONLY_IN_PROCESS;
      }
    });
  });

  describe('from a file', () => {
    it('reads the file through resolvePath and strips one trailing LF', () => {
      dir.write('lf.secret', `${VALUE}\n`);
      const seen: string[] = [];
      const secret = readSecret({ file: 'lf.secret' }, {}, (p) => {
        seen.push(p);
        return resolvePath(p);
      });
      assert.deepEqual(seen, ['lf.secret']);
      assert.equal(secret.reveal(), VALUE);
    });

    it('strips a trailing CRLF', () => {
      dir.write('crlf.secret', `${VALUE}\r\n`);
      assert.equal(readSecret({ file: 'crlf.secret' }, {}, resolvePath).reveal(), VALUE);
    });

    it('keeps a value without a trailing newline as is', () => {
      dir.write('plain.secret', VALUE);
      assert.equal(readSecret({ file: 'plain.secret' }, {}, resolvePath).reveal(), VALUE);
    });

    it('strips only the last newline and keeps inner ones and surrounding spaces', () => {
      dir.write('multi.secret', ' line1\nline2 \n\n');
      assert.equal(readSecret({ file: 'multi.secret' }, {}, resolvePath).reveal(), ' line1\nline2 \n');
    });

    it('fails naming the path and the error code when the file is missing', () => {
      const path = resolvePath('missing.secret');
      assert.throws(
        () => readSecret({ file: 'missing.secret' }, {}, resolvePath),
        (error: unknown) => error instanceof SecretUnavailable && error.message.includes(path) && error.message.includes('ENOENT'),
      );
    });

    it('fails when the path is a directory', () => {
      assert.throws(
        () => readSecret({ file: '.' }, {}, resolvePath),
        (error: unknown) => error instanceof SecretUnavailable && /EISDIR/.test(error.message),
      );
    });

    it('fails when the file is empty or holds only a newline', () => {
      dir.write('empty.secret', '');
      dir.write('newline.secret', '\n');
      for (const file of ['empty.secret', 'newline.secret']) {
        assert.throws(
          () => readSecret({ file }, {}, resolvePath),
          (error: unknown) => error instanceof SecretUnavailable && /is empty/.test(error.message),
          file,
        );
      }
    });

    it('never puts the secret into an error message', () => {
      assert.throws(
        () => readSecret({ env: 'NOPE' }, { OTHER: VALUE }, resolvePath),
        (error: unknown) => error instanceof SecretUnavailable && /NOPE is not set/.test(error.message) && !error.message.includes(VALUE),
      );
    });
  });
});
