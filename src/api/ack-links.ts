import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { verifyAckToken, type BatchAckClaims } from '../base/ack-token.js';
import type { Secret } from '../config/secret.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { Acknowledge } from '../lifecycle/ack.js';
import { summarizeBatch } from '../lifecycle/batch.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import { batchConfirmPage, batchResultPage, confirmPage, notFoundPage, plainPage, refusalPage, resultPage, type BatchAckResult, type Page, type PageFormat } from './ack-page.js';

/**
 * The acknowledgement links: `GET /ack/TOKEN` shows the alarm and a confirm button,
 * `POST /ack/TOKEN` records the acknowledgement. GET never changes anything: mail
 * scanners and link previews fetch every link in a mail, and must not acknowledge.
 * A batch token (a group or digest notification's link) does the same for every alarm
 * the batch lists: one button acknowledges each one not acknowledged yet.
 *
 * They work without a login: the signed token is the credential.
 */

export interface AckLinkOptions {
  /** The HMAC key (config `http.linkSecret`). */
  key: Secret;
  store: Pick<Store, 'alarms' | 'batches'>;
  /** Records an acknowledgement (the one decision every door uses). */
  acknowledge: Acknowledge;
  logger: Logger;
  /** Zone and locale for times on the pages. */
  format: PageFormat;
  now: () => number;
}

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

/** Registers `/ack/:token` in its own context: no route there reads a body. */
export async function registerAckLinks(app: FastifyInstance, options: AckLinkOptions): Promise<void> {
  const now = options.now;
  const logger = options.logger;

  const handle = async (req: FastifyRequest<{ Params: { token: string } }>, res: FastifyReply): Promise<void> => {
    const method = req.method;
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
      res.header('Allow', 'GET, HEAD, POST');
      send(res, plainPage(405, 'Method not allowed', 'Open the link, then use the button.'));
      return;
    }
    const peer = req.socket.remoteAddress;
    const verdict = verifyAckToken(req.params.token, options.key.reveal(), now());
    if (!verdict.ok) {
      // The token is a credential: it is not logged.
      logger.warn({ reason: verdict.reason, peer, method }, `acknowledgement link refused (${verdict.reason}); nothing acknowledged`);
      send(res, refusalPage(verdict.reason));
      return;
    }
    const claims = verdict.claims;
    if (claims.batchId !== undefined) {
      await handleBatch(res, method, claims, peer);
      return;
    }
    const { alarmId, receiver } = claims;
    const alarm = await options.store.alarms.get(alarmId);
    if (!alarm) {
      logger.warn({ alarmId, peer, method }, 'acknowledgement link for an alarm not in the store');
      send(res, notFoundPage(`There is no alarm ${alarmId} (any more).`));
      return;
    }
    if (method !== 'POST') {
      send(res, confirmPage(alarm, receiver, options.format));
      return;
    }
    const [result] = await options.acknowledge([{ alarmId, ack: { by: receiver, channel: 'link', at: now(), ref: 'link' }, peer }]);
    if (!result || result.outcome === 'unknown-alarm') {
      send(res, notFoundPage(`There is no alarm ${alarmId} (any more).`));
      return;
    }
    // The first acknowledgement counts.
    const recorded = result.outcome === 'recorded';
    if (recorded) {
      logger.info({ alarmId, by: receiver, peer }, 'alarm acknowledged by link');
    } else {
      logger.info({ alarmId, by: receiver, peer, ackedBy: result.ack.by }, 'acknowledgement link used on an alarm already acknowledged; the first acknowledgement stays');
    }
    send(res, resultPage(result.alarm, receiver, recorded, options.format));
  };

  /** A group or digest link: the batch's alarms, in the order its notification listed them. */
  const handleBatch = async (res: FastifyReply, method: string, claims: BatchAckClaims, peer: string | undefined): Promise<void> => {
    const { batchId, receiver } = claims;
    const batch = await options.store.batches.get(batchId);
    const items = batch ? await options.store.batches.items(batchId) : [];
    const stored = new Map<string, Alarm>();
    for (const item of items) {
      const alarm = stored.has(item.alarmId) ? undefined : await options.store.alarms.get(item.alarmId);
      if (alarm) stored.set(alarm.id, alarm);
    }
    const alarms = summarizeBatch(items, (id) => stored.get(id)).entries.map((e) => e.alarm);
    if (!batch || alarms.length === 0) {
      logger.warn({ batchId, peer, method }, batch ? 'acknowledgement link for a batch whose alarms are no longer in the store' : 'acknowledgement link for a batch not in the store');
      send(res, notFoundPage(batch ? `None of the alarms of ${batchId} are in the store any more.` : `There is no group or digest ${batchId} (any more).`));
      return;
    }
    if (method !== 'POST') {
      send(res, batchConfirmPage(batch, alarms, receiver, options.format));
      return;
    }
    const at = now();
    const results: BatchAckResult[] = [];
    // The alarms of one link are acknowledged in one act: their announcement goes out as one mail.
    const open = alarms.filter((alarm) => !alarm.ack);
    const outcomes = await options.acknowledge(open.map((alarm) => ({ alarmId: alarm.id, ack: { by: receiver, channel: 'link' as const, at, ref: 'link' }, peer })));
    for (const alarm of alarms) {
      const alarmId = alarm.id;
      if (alarm.ack) {
        logger.info({ alarmId, batchId, by: receiver, peer, ackedBy: alarm.ack.by }, 'acknowledgement link used on an alarm already acknowledged; the first acknowledgement stays');
        results.push({ alarm, recorded: false });
        continue;
      }
      const result = outcomes[open.indexOf(alarm)]!;
      if (result.outcome === 'unknown-alarm') {
        logger.warn({ alarmId, batchId, peer }, 'alarm of a batch no longer in the store; not acknowledged');
        continue;
      }
      const recorded = result.outcome === 'recorded';
      if (recorded) {
        logger.info({ alarmId, batchId, by: receiver, peer }, 'alarm acknowledged by link');
      } else {
        logger.info({ alarmId, batchId, by: receiver, peer, ackedBy: result.ack.by }, 'acknowledgement link used on an alarm already acknowledged; the first acknowledgement stays');
      }
      results.push({ alarm: result.alarm, recorded });
    }
    if (results.length === 0) {
      send(res, notFoundPage(`None of the alarms of ${batchId} are in the store any more.`));
      return;
    }
    send(res, batchResultPage(batch, results, receiver, options.format));
  };

  // The token in the path is the whole request. Whatever a form or a client sends is read
  // and dropped, never parsed (no 415 for a form POST).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => {
    payload.on('error', done);
    payload.on('end', () => done(null));
    payload.resume();
  });
  app.route({ method: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'], url: '/ack/:token', handler: handle });
}

/** An HTML page with the pages' security headers. */
export function send(res: FastifyReply, page: Page): void {
  const body = Buffer.from(page.html, 'utf8');
  res.code(page.status).headers(SECURITY_HEADERS).header('Content-Type', 'text/html; charset=utf-8').header('Content-Length', body.length).send(body);
}
