import type { ReplyAccountConfig } from '../config/types.js';
import type { AlarmAck } from '../lifecycle/alarm.js';
import { decideReply, replyTokens, type ReplyAckContext, type ReplyIgnoredReason } from '../lifecycle/reply-ack.js';
import type { AckOutcome, Acknowledge } from '../lifecycle/ack.js';
import type { Logger } from '../log/logger.js';
import { decodeReply, type ReplyMail } from '../parse/decode-reply.js';
import type { Store } from '../store/store.js';
import { ReplyWatcher, type FetchedReply } from '../ingest/imap/reply-watcher.js';

export interface ReplyAcknowledgerOptions {
  account: ReplyAccountConfig;
  /** `gateway.domain`: the domain of our notifications' Message-IDs. */
  domain: string;
  store: Pick<Store, 'alarms'>;
  /** Records an acknowledgement (the one decision every door uses). */
  acknowledge: Acknowledge;
  logger: Logger;
  /** The alarm ids a token stands for; by default the token is the alarm id. */
  resolveToken?: (token: string) => Promise<string[]>;
  now?: () => number;
}

export interface ReplyStats {
  read: number;
  acknowledged: number;
  ignored: Partial<Record<ReplyIgnoredReason | 'unreadable', number>>;
}

/**
 * Acknowledgement by reply, for one mailbox (`replies[]`): the IMAP watcher
 * (ingest/imap/) hands over each reply not yet processed; it is decoded, decided (lifecycle/reply-ack.ts) and, when it acknowledges,
 * recorded with channel `mail`. Every reply is logged with its outcome and then marked
 * processed by the watcher, so none is applied twice (and the first ack wins anyway).
 */
export class ReplyAcknowledger {
  /** The mailbox watcher; a new one after each stop, since a watcher runs once (the lead can come back). */
  watcher: ReplyWatcher;
  private stopped = false;
  readonly stats: ReplyStats = { read: 0, acknowledged: 0, ignored: {} };
  private readonly now: () => number;
  private readonly resolveToken: (token: string) => Promise<string[]>;

  constructor(private readonly options: ReplyAcknowledgerOptions) {
    this.now = options.now ?? Date.now;
    this.resolveToken = options.resolveToken ?? (async (token) => [token]);
    this.watcher = this.newWatcher();
  }

  start(): void {
    if (this.stopped) {
      this.stopped = false;
      this.watcher = this.newWatcher();
    }
    this.watcher.start();
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.watcher.stop();
  }

  private newWatcher(): ReplyWatcher {
    return new ReplyWatcher({ account: this.options.account, logger: this.options.logger, handle: (reply) => this.handle(reply) });
  }

  async handle(fetched: FetchedReply): Promise<void> {
    const { account, store, logger } = this.options;
    this.stats.read += 1;
    const where = { account: account.name, uid: fetched.uid };
    let reply: ReplyMail;
    try {
      reply = await decodeReply(fetched.source);
    } catch (error) {
      this.count('unreadable');
      logger.warn({ ...where, err: { message: error instanceof Error ? error.message : String(error) } }, 'reply ignored: it cannot be decoded as a mail; marked processed');
      return;
    }
    const now = this.now();
    // What deciding may ask, read before it: the alarms each token of the reply stands for.
    const tokens = new Map<string, string[]>();
    const alarms = new Map<string, ReturnType<ReplyAckContext['alarm']>>();
    for (const { token } of replyTokens(reply, this.options.domain)) {
      const ids = await this.resolveToken(token);
      tokens.set(token, ids);
      for (const alarmId of ids) {
        if (alarms.has(alarmId)) continue;
        const alarm = await store.alarms.get(alarmId);
        // Who was told: every outbox row of the alarm, and the alarm's own record of it.
        alarms.set(alarmId, alarm ? { ...(alarm.ack ? { ack: alarm.ack } : {}), recipients: [...(await store.alarms.recipients(alarmId)), ...alarm.receivers] } : undefined);
      }
    }
    const context: ReplyAckContext = {
      domain: this.options.domain,
      ackWords: account.ackWords,
      allowFrom: account.allowFrom,
      resolveToken: (token) => tokens.get(token) ?? [],
      alarm: (alarmId) => alarms.get(alarmId),
      now,
      fallbackRef: `imap:${account.name}/${account.folder}/${fetched.uid}`,
    };
    const decision = decideReply(reply, context);
    const about = { ...where, messageId: reply.messageId, from: reply.from?.address, ...(fetched.truncated ? { truncated: true } : {}) };

    if (decision.outcome === 'ignored') {
      this.count(decision.reason);
      const line = { ...about, reason: decision.reason, detail: decision.detail, ...(decision.token ? { token: decision.token } : {}) };
      const level = decision.reason === 'stranger' || decision.reason === 'unauthenticated' ? 'warn' : 'info';
      const message = `reply ignored (${decision.reason}): ${decision.detail}; marked processed`;
      if (decision.alarmIds.length === 0) logger[level](line, message);
      for (const alarmId of decision.alarmIds) logger[level]({ ...line, alarmId }, message);
      return;
    }

    for (const skipped of decision.skipped) {
      logger.info({ ...about, alarmId: skipped.alarmId, reason: skipped.reason, detail: skipped.detail }, `reply does not acknowledge this alarm (${skipped.reason}): ${skipped.detail}`);
    }
        const outcomes = await this.options.acknowledge(decision.acks);
    decision.acks.forEach(({ alarmId, ack }, i) => this.report(alarmId, ack, outcomes[i]!, about));
  }

  private report(alarmId: string, ack: AlarmAck, result: AckOutcome, about: Record<string, unknown>): void {
    const { logger } = this.options;
    if (result.outcome === 'unknown-alarm') {
      this.count('unknown-alarm');
      logger.warn({ ...about, alarmId }, 'reply ignored (unknown-alarm): the alarm is no longer in the store; marked processed');
      return;
    }
    // The first acknowledgement counts: another channel may have been quicker.
    if (result.outcome === 'already') {
      this.count('already-acknowledged');
      logger.info({ ...about, alarmId, ackedBy: result.ack.by, ackedVia: result.ack.channel }, 'reply ignored (already-acknowledged): acknowledged meanwhile by another channel; marked processed');
      return;
    }
    this.stats.acknowledged += 1;
    logger.info({ ...about, alarmId, by: ack.by, channel: 'mail', ref: ack.ref, comment: ack.comment }, 'alarm acknowledged by reply');
  }

  private count(reason: ReplyIgnoredReason | 'unreadable'): void {
    this.stats.ignored[reason] = (this.stats.ignored[reason] ?? 0) + 1;
  }
}
