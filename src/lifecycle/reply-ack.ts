import type { ReplyMail } from '../parse/decode-reply.js';
import type { AlarmAck } from './alarm.js';

/**
 * Acknowledging by replying to a notification: pure decisions over a decoded reply
 * (parse/decode-reply.ts). The reply names its alarm by the notification it answers
 * (In-Reply-To/References `<TOKEN.SEQ@DOMAIN>`, only our own domain) or, failing that,
 * by the `#TOKEN` in its subject; its first word, above any quoted text, must be an
 * acknowledgement word; and its sender must be one the alarm was sent to, or allowed by
 * `allowFrom`. Automatic mail (out-of-office, bounces, lists, our own notifications)
 * never acknowledges.
 */

export interface ReplyAckContext {
  /** `gateway.domain`: only Message-IDs of this domain are ours. */
  domain: string;
  /** Acknowledgement words, compared without case. */
  ackWords: string[];
  /** Addresses or `*@domain` that may acknowledge any alarm. */
  allowFrom: string[];
  /** The alarm ids a notification token stands for: usually the one alarm; none when unknown. */
  resolveToken: (token: string) => string[];
  /** What deciding needs to know of an alarm; undefined when there is no such alarm. */
  alarm: (alarmId: string) => { ack?: AlarmAck; recipients: string[] } | undefined;
  now: number;
  /** What the ack records as its carrier when the reply has no Message-ID. */
  fallbackRef?: string;
}

export type ReplyIgnoredReason =
  | 'own-notification'
  | 'bounce'
  | 'auto-reply'
  | 'unauthenticated'
  | 'no-sender'
  | 'no-token'
  | 'unknown-alarm'
  | 'stranger'
  | 'not-ack-word'
  | 'already-acknowledged';

export interface SkippedAlarm {
  alarmId: string;
  reason: Extract<ReplyIgnoredReason, 'stranger' | 'already-acknowledged'>;
  detail: string;
}

export type ReplyDecision =
  | {
      outcome: 'acknowledge';
      token: string;
      sender: string;
      /** One per alarm the reply acknowledges (a group token may stand for several). */
      acks: { alarmId: string; ack: AlarmAck }[];
      /** Alarms of the same token this reply does not acknowledge, and why. */
      skipped: SkippedAlarm[];
    }
  | { outcome: 'ignored'; reason: ReplyIgnoredReason; detail: string; token?: string; sender?: string; alarmIds: string[] };

export type TokenSource = 'in-reply-to' | 'references' | 'subject';

/** Longest `by` and `comment` an ack records, as for MQTT acknowledgements. */
const MAX_BY = 100;
const MAX_COMMENT = 500;

export function decideReply(reply: ReplyMail, ctx: ReplyAckContext): ReplyDecision {
  const ignored = (reason: ReplyIgnoredReason, detail: string, extra: { token?: string; sender?: string; alarmIds?: string[] } = {}): ReplyDecision => ({
    outcome: 'ignored',
    reason,
    detail,
    ...(extra.token !== undefined ? { token: extra.token } : {}),
    ...(extra.sender !== undefined ? { sender: extra.sender } : {}),
    alarmIds: extra.alarmIds ?? [],
  });

  const automatic = automaticMail(reply);
  if (automatic) return ignored(automatic.reason, automatic.detail);
  const sender = reply.from?.address.trim().toLowerCase();
  if (!sender) return ignored('no-sender', 'the reply has no From address');
  const failed = failedAuthentication(reply);
  if (failed) return ignored('unauthenticated', failed, { sender });

  const candidates = replyTokens(reply, ctx.domain);
  if (candidates.length === 0) return ignored('no-token', `neither In-Reply-To/References of @${ctx.domain} nor a #token in the subject name an alarm`, { sender });
  let token: string | undefined;
  let alarmIds: string[] = [];
  for (const candidate of candidates) {
    const known = [...new Set(ctx.resolveToken(candidate.token))].filter((id) => ctx.alarm(id) !== undefined);
    if (known.length > 0) {
      token = candidate.token;
      alarmIds = known;
      break;
    }
  }
  if (token === undefined) {
    return ignored('unknown-alarm', `no alarm for ${candidates.map((c) => `${c.token} (${c.source})`).join(', ')}`, { token: candidates[0]!.token, sender });
  }

  const allowed = alarmIds.filter((id) => senderAllowed(sender, ctx.alarm(id)!.recipients, ctx.allowFrom));
  if (allowed.length === 0) {
    return ignored('stranger', `${sender} is not an address the alarm was sent to, nor in allowFrom`, { token, sender, alarmIds });
  }

  const line = firstLine(reply.text);
  const word = line === undefined ? undefined : ackWord(line, ctx.ackWords);
  if (!word) {
    const said = line === undefined ? 'the reply has no text above the quoted notification' : `its first word "${truncate(firstWord(line), 40)}" is not one of ${ctx.ackWords.join(', ')}`;
    return ignored('not-ack-word', said, { token, sender, alarmIds });
  }

  const skipped: SkippedAlarm[] = alarmIds
    .filter((id) => !allowed.includes(id))
    .map((alarmId) => ({ alarmId, reason: 'stranger' as const, detail: `${sender} was not sent alarm ${alarmId}` }));
  const acks: { alarmId: string; ack: AlarmAck }[] = [];
  const by = truncate(clean(reply.from?.name ? `${reply.from.name} <${sender}>` : sender), MAX_BY);
  const ref = reply.messageId ?? ctx.fallbackRef;
  for (const alarmId of allowed) {
    const existing = ctx.alarm(alarmId)!.ack;
    if (existing) {
      skipped.push({ alarmId, reason: 'already-acknowledged', detail: `already acknowledged by ${existing.by} via ${existing.channel} at ${new Date(existing.at).toISOString()}` });
      continue;
    }
    acks.push({ alarmId, ack: { by, at: ctx.now, channel: 'mail', ...(word.comment ? { comment: word.comment } : {}), ...(ref ? { ref } : {}) } });
  }
  if (acks.length === 0) {
    const first = skipped.find((s) => s.reason === 'already-acknowledged')!;
    return ignored('already-acknowledged', first.detail, { token, sender, alarmIds });
  }
  return { outcome: 'acknowledge', token, sender, acks, skipped };
}

/**
 * The tokens a reply carries, most telling first: In-Reply-To (the notification it
 * answers), then References from the newest back, then `#TOKEN`s in the subject from the
 * last back (ours is appended at the end; a title may hold a `#3` of its own). Message ids
 * count only when they are ours: `<TOKEN.SEQ@DOMAIN>` with our domain.
 */
export function replyTokens(reply: Pick<ReplyMail, 'inReplyTo' | 'references' | 'subject'>, domain: string): { source: TokenSource; token: string }[] {
  const seen = new Set<string>();
  const out: { source: TokenSource; token: string }[] = [];
  const add = (source: TokenSource, token: string | undefined): void => {
    if (token === undefined || seen.has(token)) return;
    seen.add(token);
    out.push({ source, token });
  };
  for (const id of reply.inReplyTo) add('in-reply-to', tokenOfMessageId(id, domain));
  for (const id of [...reply.references].reverse()) add('references', tokenOfMessageId(id, domain));
  const subjectTokens = [...reply.subject.matchAll(/(?:^|[\s([])#([A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9]|[A-Za-z0-9])(?=$|[\s)\],.;:!?])/g)].map((m) => m[1]!);
  for (const token of subjectTokens.reverse()) add('subject', token);
  return out;
}

/**
 * `<TOKEN.SUFFIX@DOMAIN>` -> TOKEN when DOMAIN is ours (without case); else undefined. An
 * alarm's notifications end in their sequence number (`.1`, `.2`), a group's in its kind.
 */
export function tokenOfMessageId(messageId: string, domain: string): string | undefined {
  const match = /^<?([A-Za-z0-9._-]+)\.([A-Za-z0-9-]+)@([^<>@\s]+)>?$/.exec(messageId.trim());
  if (!match || match[3]!.toLowerCase() !== domain.toLowerCase()) return undefined;
  return match[1];
}

/**
 * The first line of text the sender wrote: the first line that is not blank, unless it is
 * already quoted (`>`), in which case nothing was written above the quote.
 */
export function firstLine(text: string): string | undefined {
  for (const raw of text.replace(/^\uFEFF/, '').split(/\r?\n/)) {
    const line = raw.replace(/[\u00A0\u200B\u2007\u202F]/g, ' ').trim();
    if (line === '') continue;
    return line.startsWith('>') ? undefined : line;
  }
  return undefined;
}

/** The acknowledgement word a line opens with, and the rest of the line as the comment. */
export function ackWord(line: string, ackWords: string[]): { word: string; comment?: string } | undefined {
  const word = normalizeWord(firstWord(line));
  const words = new Set(ackWords.map((w) => w.toUpperCase()));
  if (word === '' || !words.has(word.toUpperCase())) return undefined;
  const rest = line.trim().slice(firstWord(line).length).replace(/^[\s:;,.!–—-]+/, '').trim();
  const comment = truncate(clean(rest), MAX_COMMENT);
  return { word, ...(comment ? { comment } : {}) };
}

function firstWord(line: string): string {
  return line.trim().split(/\s+/)[0] ?? '';
}

/** `*ACK*`, `ACK,` and `Ack!` are ACK. */
function normalizeWord(word: string): string {
  return word.replace(/^[*_("'[]+/, '').replace(/[*_)"'\].,;:!?-]+$/, '');
}

export function senderAllowed(sender: string, recipients: string[], allowFrom: string[]): boolean {
  const address = sender.trim().toLowerCase();
  if (recipients.some((r) => r.trim().toLowerCase() === address)) return true;
  const domain = address.slice(address.lastIndexOf('@') + 1);
  return allowFrom.some((entry) => {
    const e = entry.trim().toLowerCase();
    return e.startsWith('*@') ? e.slice(2) === domain : e === address;
  });
}

/** Out-of-office replies, bounces, list mail and our own notifications: a machine wrote them, nobody acknowledged. */
export function automaticMail(reply: Pick<ReplyMail, 'headers' | 'from'>): { reason: 'own-notification' | 'bounce' | 'auto-reply'; detail: string } | undefined {
  const header = (name: string): string | undefined => reply.headers.get(name)?.[0];
  // Every notification carries one of these headers. (Not judged by its Message-ID: a
  // mail client of the plant may well write ids under the same domain as the gateway's.)
  const alarm = header('x-annunciator-alarm') ?? header('x-annunciator-batch');
  if (alarm !== undefined) return { reason: 'own-notification', detail: `it is a notification of the gateway (${alarm}), not a reply` };

  const local = (reply.from?.address ?? '').toLowerCase().split('@')[0] ?? '';
  const returnPath = header('return-path');
  if (returnPath !== undefined && /^<\s*>$/.test(returnPath)) return { reason: 'bounce', detail: 'its Return-Path is empty (<>): a delivery status notification' };
  if (local === 'mailer-daemon' || local === 'postmaster') return { reason: 'bounce', detail: `it comes from ${reply.from!.address}` };
  if (/^multipart\/report\b/i.test(header('content-type') ?? '')) return { reason: 'bounce', detail: 'it is a multipart/report (delivery or read report)' };
  if (header('x-failed-recipients') !== undefined) return { reason: 'bounce', detail: 'it carries X-Failed-Recipients' };

  const autoSubmitted = header('auto-submitted');
  if (autoSubmitted !== undefined && autoSubmitted.split(';')[0]!.trim().toLowerCase() !== 'no') return { reason: 'auto-reply', detail: `Auto-Submitted: ${truncate(autoSubmitted, 60)}` };
  for (const name of ['x-autoreply', 'x-autorespond']) {
    if (header(name) !== undefined) return { reason: 'auto-reply', detail: `it carries ${name}` };
  }
  const precedence = header('precedence')?.toLowerCase();
  if (precedence && ['bulk', 'junk', 'list', 'auto_reply'].includes(precedence)) return { reason: 'auto-reply', detail: `Precedence: ${precedence}` };
  if (header('list-id') !== undefined || header('list-unsubscribe') !== undefined) return { reason: 'auto-reply', detail: 'it is mailing-list mail' };
  return undefined;
}

/**
 * The receiving server's verdict on the sender: the topmost Authentication-Results (the
 * one the mailbox's own server added; a sender can only add ones below it). A From that
 * fails DMARC is forged or broken, and must not acknowledge.
 */
export function failedAuthentication(reply: Pick<ReplyMail, 'headers'>): string | undefined {
  const topmost = reply.headers.get('authentication-results')?.[0];
  if (topmost && /\bdmarc\s*=\s*fail\b/i.test(topmost)) return `the receiving server found the sender's domain failing DMARC (${truncate(topmost, 120)})`;
  return undefined;
}

function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001F\u007F]/g, ' ').trim();
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
