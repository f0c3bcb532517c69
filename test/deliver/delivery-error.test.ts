import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyDeliveryError, oneLine } from '../../src/deliver/delivery-error.js';

/** An Error shaped like the ones nodemailer throws. */
function smtpError(message: string, fields: { code?: string; responseCode?: number; response?: string; command?: string } = {}): Error {
  return Object.assign(new Error(message), fields);
}

describe('classifyDeliveryError: failover (the account cannot be used)', () => {
  it('EAUTH, whatever the reply code', () => {
    const failure = classifyDeliveryError(smtpError('Invalid login', { code: 'EAUTH', responseCode: 535, response: '535 5.7.8 Username and Password not accepted', command: 'AUTH PLAIN' }));
    assert.equal(failure.kind, 'failover');
    assert.equal(failure.responseCode, 535);
    assert.match(failure.reason, /^EAUTH: /);
    assert.match(failure.reason, /Username and Password not accepted/);
  });

  it('EAUTH with a 4xx reply is still failover, not transient', () => {
    assert.equal(classifyDeliveryError(smtpError('x', { code: 'EAUTH', responseCode: 454, command: 'AUTH XOAUTH2' })).kind, 'failover');
  });

  it('ENOAUTH and EOAUTH2', () => {
    assert.equal(classifyDeliveryError(smtpError('Missing credentials', { code: 'ENOAUTH' })).kind, 'failover');
    assert.equal(classifyDeliveryError(smtpError('token refresh failed', { code: 'EOAUTH2' })).kind, 'failover');
  });

  it('any error during AUTH, STARTTLS or the connection stage', () => {
    for (const command of ['AUTH LOGIN', 'auth plain', 'STARTTLS', 'CONN']) {
      const failure = classifyDeliveryError(smtpError('refused', { responseCode: 554, command }));
      assert.equal(failure.kind, 'failover', command);
      assert.equal(failure.responseCode, 554, command);
    }
  });

  it('a 5xx greeting (command CONN) is failover, not permanent', () => {
    const failure = classifyDeliveryError(smtpError('Greeting never received', { code: 'EPROTOCOL', responseCode: 554, response: '554 No SMTP service here', command: 'CONN' }));
    assert.equal(failure.kind, 'failover');
    assert.match(failure.reason, /554 No SMTP service here/);
  });

  it('connection error codes', () => {
    for (const code of ['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE', 'ETLS', 'EPROTOCOL', 'EGREETING']) {
      const failure = classifyDeliveryError(smtpError(`failed (${code})`, { code }));
      assert.equal(failure.kind, 'failover', code);
      assert.equal(failure.reason, `${code}: failed (${code})`, code);
    }
  });

  it('certificate and TLS errors, by message, even without a code', () => {
    for (const message of ['self signed certificate in certificate chain', 'self-signed certificate', 'unable to verify the first certificate', 'certificate has expired', 'SSL routines:ssl3_get_record:wrong version number', 'TLS handshake failed', "Hostname/IP does not match certificate's altnames"]) {
      const failure = classifyDeliveryError(new Error(message));
      assert.equal(failure.kind, 'failover', message);
      assert.equal(failure.reason, message);
    }
  });

  it('certificate errors wrapped with ESOCKET', () => {
    const failure = classifyDeliveryError(smtpError('self signed certificate', { code: 'ESOCKET', command: 'CONN' }));
    assert.equal(failure.kind, 'failover');
  });
});

describe('classifyDeliveryError: replies to the message', () => {
  it('451 on DATA is transient', () => {
    const failure = classifyDeliveryError(smtpError('Message failed', { code: 'EMESSAGE', responseCode: 451, response: '451 4.3.0 Temporary failure', command: 'DATA' }));
    assert.deepEqual(failure, { kind: 'transient', reason: '451 4.3.0 Temporary failure', responseCode: 451 });
  });

  it('550 on DATA is permanent', () => {
    const failure = classifyDeliveryError(smtpError('Message failed', { code: 'EMESSAGE', responseCode: 550, response: '550 5.7.1 Message rejected as spam', command: 'DATA' }));
    assert.deepEqual(failure, { kind: 'permanent', reason: '550 5.7.1 Message rejected as spam', responseCode: 550 });
  });

  it('550 on RCPT TO and MAIL FROM is permanent', () => {
    assert.equal(classifyDeliveryError(smtpError('Can\'t send mail - all recipients were rejected', { code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO' })).kind, 'permanent');
    assert.equal(classifyDeliveryError(smtpError('Sender rejected', { code: 'EENVELOPE', responseCode: 553, command: 'MAIL FROM' })).kind, 'permanent');
  });

  it('421 and 452 are transient', () => {
    assert.equal(classifyDeliveryError(smtpError('x', { responseCode: 421, command: 'DATA' })).kind, 'transient');
    assert.equal(classifyDeliveryError(smtpError('x', { responseCode: 452, command: 'RCPT TO' })).kind, 'transient');
  });

  it('the boundaries: 400 is transient, 499 transient, 500 permanent', () => {
    assert.equal(classifyDeliveryError(smtpError('x', { responseCode: 400 })).kind, 'transient');
    assert.equal(classifyDeliveryError(smtpError('x', { responseCode: 499 })).kind, 'transient');
    assert.equal(classifyDeliveryError(smtpError('x', { responseCode: 500 })).kind, 'permanent');
  });

  it('a reply code wins over a TLS-sounding response text', () => {
    const failure = classifyDeliveryError(smtpError('x', { responseCode: 554, response: '554 5.7.0 TLS required for this recipient', command: 'DATA' }));
    assert.equal(failure.kind, 'permanent');
  });

  it('a reply code wins over a connection error code outside the connection stage', () => {
    assert.equal(classifyDeliveryError(smtpError('x', { code: 'EMESSAGE', responseCode: 552, command: 'DATA' })).kind, 'permanent');
  });

  it('uses the response text for the reason, else the message', () => {
    assert.equal(classifyDeliveryError(smtpError('msg', { responseCode: 550, response: 'resp' })).reason, 'resp');
    assert.equal(classifyDeliveryError(smtpError('msg', { responseCode: 550 })).reason, 'msg');
  });
});

describe('classifyDeliveryError: anything else', () => {
  it('an unknown error without a reply is transient', () => {
    assert.deepEqual(classifyDeliveryError(new Error('something odd')), { kind: 'transient', reason: 'something odd' });
  });

  it('an unknown code is named in the reason', () => {
    assert.deepEqual(classifyDeliveryError(smtpError('stream broke', { code: 'ESTREAM' })), { kind: 'transient', reason: 'ESTREAM: stream broke' });
  });

  it('a reply code below 400 does not make it permanent', () => {
    assert.equal(classifyDeliveryError(smtpError('odd', { responseCode: 250 })).kind, 'transient');
  });

  it('copes with non-Error values', () => {
    assert.deepEqual(classifyDeliveryError('plain string'), { kind: 'transient', reason: 'plain string' });
    assert.equal(classifyDeliveryError(undefined).kind, 'transient');
    assert.equal(classifyDeliveryError(null).kind, 'transient');
    assert.equal(typeof classifyDeliveryError(null).reason, 'string');
    assert.equal(classifyDeliveryError({}).kind, 'transient');
  });

  it('flattens a multi-line response into one line', () => {
    const failure = classifyDeliveryError(smtpError('x', { responseCode: 550, response: '550-5.7.1 first line\r\n550 5.7.1 second line\r\n' }));
    assert.equal(failure.reason, '550-5.7.1 first line 550 5.7.1 second line');
  });
});

describe('oneLine', () => {
  it('folds white space and trims', () => {
    assert.equal(oneLine('  a\r\n\tb   c \n'), 'a b c');
  });

  it('caps at 500 characters', () => {
    assert.equal(oneLine('x'.repeat(1000)).length, 500);
  });
});
