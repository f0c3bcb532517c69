import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AlarmAck } from '../../src/lifecycle/alarm.js';
import { ackWord, decideReply, firstLine, replyTokens, tokenOfMessageId, type ReplyAckContext, type ReplyDecision } from '../../src/lifecycle/reply-ack.js';
import { decodeReply } from '../../src/parse/decode-reply.js';

const DOMAIN = 'gw.test';
const NOW = Date.UTC(2026, 10, 24, 3, 20, 0);
const A1 = '01JDX3K8Q4M2Z7V9T6R5W1N0PA';
const A2 = '01JDX3K8Q4M2Z7V9T6R5W1N0PB';
const ACKED = '01JDX3K8Q4M2Z7V9T6R5W1N0PC';
const EARLIER: AlarmAck = { by: 'tom', at: NOW - 60_000, channel: 'cli' };

const ALARMS: Record<string, { ack?: AlarmAck; recipients: string[] }> = {
  [A1]: { recipients: ['anna.berger@example.com', 'Tom.Keller@example.com'] },
  [A2]: { recipients: ['tom.keller@example.com'] },
  [ACKED]: { ack: EARLIER, recipients: ['anna.berger@example.com'] },
};

function context(overrides: Partial<ReplyAckContext> = {}): ReplyAckContext {
  return {
    domain: DOMAIN,
    ackWords: ['ACK', 'OK', 'ACKNOWLEDGE'],
    allowFrom: [],
    resolveToken: (token) => [token],
    alarm: (id) => ALARMS[id],
    now: NOW,
    ...overrides,
  };
}

interface MailOptions {
  from?: string;
  subject?: string;
  inReplyTo?: string;
  references?: string;
  headers?: string[];
  messageId?: string | null;
  contentType?: string;
}

/** A reply as a mail client writes it: top-posted text, then the quoted notification. */
function mail(text: string, options: MailOptions = {}): Buffer {
  const lines = [
    `From: ${options.from ?? 'Anna Berger <anna.berger@example.com>'}`,
    'To: Annunciator <alarms@plant.example.com>',
    `Subject: ${options.subject ?? `Re: [CRITICAL] Motor M12 overtemperature — PLC Line 4 #${A1}`}`,
    'Date: Tue, 24 Nov 2026 04:19:00 +0100',
    ...(options.messageId === null ? [] : [`Message-ID: ${options.messageId ?? '<CAF=reply-1@mail.example.com>'}`]),
    ...(options.inReplyTo !== undefined ? [`In-Reply-To: ${options.inReplyTo}`] : [`In-Reply-To: <${A1}.1@${DOMAIN}>`]),
    ...(options.references !== undefined ? [`References: ${options.references}`] : [`References: <${A1}.1@${DOMAIN}>`]),
    ...(options.headers ?? []),
    'MIME-Version: 1.0',
    `Content-Type: ${options.contentType ?? 'text/plain; charset=utf-8'}`,
    'Content-Transfer-Encoding: 8bit',
    '',
    text,
  ];
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

const QUOTE = '\r\n\r\nOn Tue, 24 Nov 2026 at 03:14, Annunciator wrote:\r\n> [CRITICAL] Motor M12 overtemperature\r\n> Acknowledge: reply ACK\r\n';

async function decide(raw: Buffer, ctx: ReplyAckContext = context()): Promise<ReplyDecision> {
  return decideReply(await decodeReply(raw), ctx);
}

function ignoredReason(decision: ReplyDecision): string {
  return decision.outcome === 'ignored' ? decision.reason : 'acknowledge';
}

describe('decideReply: a receiver acknowledges', () => {
  it('"ACK on my way" above the quote acknowledges, by the sender, with the rest of the line as comment', async () => {
    const decision = await decide(mail(`ACK on my way${QUOTE}`));
    assert.equal(decision.outcome, 'acknowledge');
    if (decision.outcome !== 'acknowledge') return;
    assert.equal(decision.token, A1);
    assert.equal(decision.sender, 'anna.berger@example.com');
    assert.deepEqual(decision.acks, [
      { alarmId: A1, ack: { by: 'Anna Berger <anna.berger@example.com>', at: NOW, channel: 'mail', comment: 'on my way', ref: '<CAF=reply-1@mail.example.com>' } },
    ]);
    assert.deepEqual(decision.skipped, []);
  });

  it('takes the word in any case and with punctuation; a bare word has no comment', async () => {
    for (const [text, comment] of [
      ['ack', undefined],
      ['Ok, heading there', 'heading there'],
      ['*ACK* - 10 minutes', '10 minutes'],
      ['Acknowledge: sending Tom', 'sending Tom'],
      ['  \r\n\u00A0\r\nACK!', undefined],
    ] as const) {
      const decision = await decide(mail(`${text}${QUOTE}`));
      assert.equal(decision.outcome, 'acknowledge', text);
      if (decision.outcome === 'acknowledge') assert.equal(decision.acks[0]?.ack.comment, comment, text);
    }
  });

  it('compares the sender without case', async () => {
    const decision = await decide(mail('ACK', { from: 'TOM.KELLER@EXAMPLE.COM' }));
    assert.equal(decision.outcome, 'acknowledge');
    if (decision.outcome === 'acknowledge') assert.equal(decision.acks[0]?.ack.by, 'tom.keller@example.com');
  });

  it('accepts addresses and *@domain from allowFrom for any alarm', async () => {
    assert.equal(ignoredReason(await decide(mail('ACK', { from: 'lea@plant.example.com' }))), 'stranger');
    assert.equal((await decide(mail('ACK', { from: 'Lea <lea@plant.example.com>' }), context({ allowFrom: ['*@Plant.Example.com'] }))).outcome, 'acknowledge');
    assert.equal((await decide(mail('ACK', { from: 'lea@plant.example.com' }), context({ allowFrom: ['LEA@plant.example.com'] }))).outcome, 'acknowledge');
    assert.equal(ignoredReason(await decide(mail('ACK', { from: 'lea@sub.plant.example.com' }), context({ allowFrom: ['*@plant.example.com'] }))), 'stranger');
  });

  it('uses configured words only', async () => {
    assert.equal(ignoredReason(await decide(mail('ACKNOWLEDGED'))), 'not-ack-word');
    assert.equal((await decide(mail('quittiert, komme'), context({ ackWords: ['QUITTIERT'] }))).outcome, 'acknowledge');
  });

  it('reads an HTML-only reply as its text', async () => {
    const html = `<div dir="ltr">ACK on my way</div><br><blockquote><p>[CRITICAL] Motor M12</p></blockquote>`;
    const decision = await decide(mail(html, { contentType: 'text/html; charset=utf-8' }));
    assert.equal(decision.outcome, 'acknowledge');
    if (decision.outcome === 'acknowledge') assert.equal(decision.acks[0]?.ack.comment, 'on my way');
  });

  it('records where the reply was read when it has no Message-ID', async () => {
    const decision = await decide(mail('ACK', { messageId: null }), context({ fallbackRef: 'imap:plant/INBOX/7' }));
    assert.equal(decision.outcome, 'acknowledge');
    if (decision.outcome === 'acknowledge') assert.equal(decision.acks[0]?.ack.ref, 'imap:plant/INBOX/7');
  });
});

describe('decideReply: which alarm', () => {
  it('In-Reply-To wins over the subject', async () => {
    const decision = await decide(mail('ACK', { inReplyTo: `<${A2}.2@${DOMAIN}>`, references: `<${A2}.1@${DOMAIN}> <${A2}.2@${DOMAIN}>`, from: 'tom.keller@example.com' }));
    assert.equal(decision.outcome, 'acknowledge');
    if (decision.outcome === 'acknowledge') assert.equal(decision.token, A2);
  });

  it('falls back to the #token in the subject when the client dropped the headers, skipping a #3 in the title', async () => {
    const raw = mail('ACK', { inReplyTo: '', references: '', subject: `AW: [CRITICAL] Pump #3 failure @ PLC Line 4 [#${A1}]` });
    const decision = await decide(raw);
    assert.equal(decision.outcome, 'acknowledge');
    if (decision.outcome === 'acknowledge') assert.equal(decision.token, A1);
  });

  it('ignores Message-IDs of another domain: a token there is not ours', async () => {
    const decision = await decide(mail('ACK', { inReplyTo: `<${A1}.1@other.example>`, references: `<${A1}.1@other.example>`, subject: 'Re: Motor M12 overtemperature' }));
    assert.equal(ignoredReason(decision), 'no-token');
    assert.deepEqual(replyTokens({ inReplyTo: [`<${A1}.1@gw.test.evil.example>`], references: [], subject: '' }, DOMAIN), []);
  });

  it('an unknown token is an unknown alarm', async () => {
    const decision = await decide(mail('ACK', { inReplyTo: `<01JDNOSUCHALARM00000000000.1@${DOMAIN}>`, references: '', subject: 'Re: gone' }));
    assert.equal(ignoredReason(decision), 'unknown-alarm');
  });

  it('a group token resolves to several alarms: each one the sender was told of is acknowledged', async () => {
    const ctx = context({ resolveToken: (token) => (token === 'BATCH1' ? [A1, A2, ACKED] : []) });
    const decision = await decide(mail('ACK all of them', { inReplyTo: `<BATCH1.group@${DOMAIN}>`, references: '' }), ctx);
    assert.equal(decision.outcome, 'acknowledge');
    if (decision.outcome !== 'acknowledge') return;
    assert.deepEqual(decision.acks.map((a) => a.alarmId), [A1]);
    assert.deepEqual(decision.skipped.map((s) => [s.alarmId, s.reason]), [
      [A2, 'stranger'],
      [ACKED, 'already-acknowledged'],
    ]);
  });
});

describe('decideReply: what does not acknowledge', () => {
  it('a stranger', async () => {
    const decision = await decide(mail(`ACK${QUOTE}`, { from: 'Mallory <mallory@evil.example>' }));
    assert.equal(decision.outcome, 'ignored');
    if (decision.outcome !== 'ignored') return;
    assert.equal(decision.reason, 'stranger');
    assert.deepEqual(decision.alarmIds, [A1]);
    assert.match(decision.detail, /mallory@evil\.example is not an address the alarm was sent to/);
  });

  it('a question, with "ACK" only in the quoted notification below it', async () => {
    const decision = await decide(mail('Who is on call tonight?\r\n\r\n> ACK\r\n> [CRITICAL] Motor M12 overtemperature\r\n'));
    assert.equal(ignoredReason(decision), 'not-ack-word');
    if (decision.outcome === 'ignored') assert.match(decision.detail, /first word "Who"/);
  });

  it('nothing written above the quote (a bottom-posted or empty reply)', async () => {
    assert.equal(ignoredReason(await decide(mail('> [CRITICAL] Motor M12\r\n> text\r\n\r\nACK'))), 'not-ack-word');
    assert.equal(ignoredReason(await decide(mail(''))), 'not-ack-word');
  });

  it('"NOT ACK" and "acknowledged?" are not acknowledgements', async () => {
    assert.equal(ignoredReason(await decide(mail('NOT ACK, I am abroad'))), 'not-ack-word');
    assert.equal(ignoredReason(await decide(mail('acknowledged? by whom'))), 'not-ack-word');
  });

  it('an alarm already acknowledged', async () => {
    const decision = await decide(mail('ACK', { inReplyTo: `<${ACKED}.1@${DOMAIN}>`, references: '' }));
    assert.equal(ignoredReason(decision), 'already-acknowledged');
    if (decision.outcome === 'ignored') assert.match(decision.detail, /already acknowledged by tom via cli/);
  });

  it('out-of-office and other automatic replies, even when they start with OK', async () => {
    for (const header of ['Auto-Submitted: auto-replied', 'Auto-Submitted: auto-generated; owner-email="x@example.com"', 'X-Autoreply: yes', 'X-Autorespond: vacation', 'Precedence: bulk', 'Precedence: auto_reply', 'List-Id: <plant.lists.example.com>']) {
      assert.equal(ignoredReason(await decide(mail('OK I am out of office until Monday', { headers: [header] }))), 'auto-reply', header);
    }
    assert.equal((await decide(mail('OK', { headers: ['Auto-Submitted: no'] }))).outcome, 'acknowledge');
  });

  it('bounces', async () => {
    assert.equal(ignoredReason(await decide(mail('OK', { headers: ['Return-Path: <>'] }))), 'bounce');
    assert.equal(ignoredReason(await decide(mail('OK', { from: 'Mail Delivery System <MAILER-DAEMON@mx.example.com>' }))), 'bounce');
    assert.equal(ignoredReason(await decide(mail('OK', { headers: ['X-Failed-Recipients: tom.keller@example.com'] }))), 'bounce');
    const report = 'This is a delivery report.\r\n--b1\r\nContent-Type: text/plain\r\n\r\nOK delivered\r\n--b1--\r\n';
    assert.equal(ignoredReason(await decide(mail(report, { contentType: 'multipart/report; report-type=delivery-status; boundary="b1"' }))), 'bounce');
  });

  it('our own notifications, e.g. a copy that lands in the reply mailbox', async () => {
    assert.equal(ignoredReason(await decide(mail('ACK', { headers: [`X-Annunciator-Alarm: ${A1}`] }))), 'own-notification');
    assert.equal(ignoredReason(await decide(mail('ACK', { headers: ['X-Annunciator-Batch: 01JDBATCH', 'X-Annunciator-Kind: group'] }))), 'own-notification');
    // A client writing Message-IDs under the gateway's domain is still a person.
    assert.equal((await decide(mail('ACK', { messageId: `<reply.2@${DOMAIN}>` }))).outcome, 'acknowledge');
  });

  it('a sender the receiving server found failing DMARC (topmost Authentication-Results only)', async () => {
    const failing = ['Authentication-Results: mx.plant.example.com; dmarc=fail (p=reject) header.from=example.com', 'Authentication-Results: mx.plant.example.com; spf=fail'];
    assert.equal(ignoredReason(await decide(mail('ACK', { headers: failing }))), 'unauthenticated');
    // A sender can add headers of its own, but only below the one the receiving server adds.
    const forgedBelow = ['Authentication-Results: mx.plant.example.com; dmarc=pass header.from=example.com', 'Authentication-Results: attacker; dmarc=fail'];
    assert.equal((await decide(mail('ACK', { headers: forgedBelow }))).outcome, 'acknowledge');
  });

  it('a mail without From', async () => {
    const raw = Buffer.from(`Subject: Re: x #${A1}\r\nIn-Reply-To: <${A1}.1@${DOMAIN}>\r\n\r\nACK\r\n`);
    assert.equal(ignoredReason(await decide(raw)), 'no-sender');
  });
});

describe('reply-ack helpers', () => {
  it('tokenOfMessageId: <TOKEN.SUFFIX@our domain> only', () => {
    assert.equal(tokenOfMessageId(`<${A1}.12@gw.test>`, 'GW.TEST'), A1);
    assert.equal(tokenOfMessageId('<BATCH1.digest@gw.test>', 'gw.test'), 'BATCH1');
    assert.equal(tokenOfMessageId(`<${A1}.1@gw.test.evil>`, 'gw.test'), undefined);
    assert.equal(tokenOfMessageId(`<${A1}@gw.test>`, 'gw.test'), undefined);
    assert.equal(tokenOfMessageId('<CAF=x@mail.gmail.com>', 'gw.test'), undefined);
  });

  it('firstLine: the first written line, none when the quote comes first', () => {
    assert.equal(firstLine('\uFEFF\r\n  ACK  on my way \r\n> quoted'), 'ACK  on my way');
    assert.equal(firstLine('> ACK\nOK'), undefined);
    assert.equal(firstLine(' \n\t\n'), undefined);
  });

  it('ackWord: the comment loses control characters and is capped', () => {
    assert.deepEqual(ackWord('ACK', ['ack']), { word: 'ACK' });
    const long = ackWord(`OK ${'x'.repeat(600)}`, ['OK']);
    assert.equal(long?.comment?.length, 500);
    assert.equal(ackWord('OKAY', ['OK']), undefined);
  });
});
