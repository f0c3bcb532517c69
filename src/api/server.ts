import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { verifyAckToken, type BatchAckClaims } from '../base/ack-token.js';
import type { Secret } from '../config/secret.js';
import type { Alarm } from '../lifecycle/alarm.js';
import type { Acknowledge } from '../lifecycle/ack.js';
import { summarizeBatch } from '../lifecycle/batch.js';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import { batchConfirmPage, batchResultPage, confirmPage, notFoundPage, plainPage, refusalPage, resultPage, type BatchAckResult, type Page, type PageFormat } from './ack-page.js';

/**
 * The acknowledgement-link server: `GET /ack/TOKEN` shows the alarm and a confirm button,
 * `POST /ack/TOKEN` records the acknowledgement. GET never changes anything: mail
 * scanners and link previews fetch every link in a mail, and must not acknowledge.
 * A batch token (a group or digest notification's link) does the same for every alarm
 * the batch lists: one button acknowledges each one not acknowledged yet.
 *
 * Built on node:http, not a framework: fastify 5 (the library we would pick) pulls in
 * cookie@2, which declares Node >= 22 and does not install cleanly on our Node 20; and
 * two routes with no body to parse need no router.
 */

export interface AckServerOptions {
  listen: { address: string; port: number };
  /** The HMAC key (config `api.linkSecret`). */
  key: Secret;
  store: Pick<Store, 'alarms' | 'batches'>;
  /** Records an acknowledgement (the one decision every door uses). */
  acknowledge: Acknowledge;
  logger: Logger;
  /** Zone and locale for times on the pages. */
  format: PageFormat;
  now?: () => number;
}

export interface AckServer {
  address(): AddressInfo;
  close(): Promise<void>;
}

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Content-Type-Options': 'nosniff',
};

const ACK_PATH = /^\/ack\/([^/]+)$/;

export async function startAckServer(options: AckServerOptions): Promise<AckServer> {
  const now = options.now ?? Date.now;
  const logger = options.logger;

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // No route reads a body: the token in the path is the whole request.
    req.resume();
    const method = req.method ?? 'GET';
    const path = safePath(req.url);
    const match = path === undefined ? null : ACK_PATH.exec(path);
    if (!match) {
      send(res, method, notFoundPage('There is no page here. Acknowledgement links look like /ack/TOKEN.'));
      return;
    }
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
      res.setHeader('Allow', 'GET, HEAD, POST');
      send(res, method, plainPage(405, 'Method not allowed', 'Open the link, then use the button.'));
      return;
    }
    const peer = req.socket.remoteAddress;
    const verdict = verifyAckToken(match[1]!, options.key.reveal(), now());
    if (!verdict.ok) {
      // The token is a credential: it is not logged.
      logger.warn({ reason: verdict.reason, peer, method }, `acknowledgement link refused (${verdict.reason}); nothing acknowledged`);
      send(res, method, refusalPage(verdict.reason));
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
      send(res, method, notFoundPage(`There is no alarm ${alarmId} (any more).`));
      return;
    }
    if (method !== 'POST') {
      send(res, method, confirmPage(alarm, receiver, options.format));
      return;
    }
    const [result] = await options.acknowledge([{ alarmId, ack: { by: receiver, channel: 'link', at: now(), ref: 'link' } }]);
    if (!result || result.outcome === 'unknown-alarm') {
      send(res, method, notFoundPage(`There is no alarm ${alarmId} (any more).`));
      return;
    }
    // The first acknowledgement counts.
    const recorded = result.outcome === 'recorded';
    if (recorded) {
      logger.info({ alarmId, by: receiver, peer }, 'alarm acknowledged by link');
    } else {
      logger.info({ alarmId, by: receiver, peer, ackedBy: result.ack.by }, 'acknowledgement link used on an alarm already acknowledged; the first acknowledgement stays');
    }
    send(res, method, resultPage(result.alarm, receiver, recorded, options.format));
  };

  /** A group or digest link: the batch's alarms, in the order its notification listed them. */
  const handleBatch = async (res: ServerResponse, method: string, claims: BatchAckClaims, peer: string | undefined): Promise<void> => {
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
      send(res, method, notFoundPage(batch ? `None of the alarms of ${batchId} are in the store any more.` : `There is no group or digest ${batchId} (any more).`));
      return;
    }
    if (method !== 'POST') {
      send(res, method, batchConfirmPage(batch, alarms, receiver, options.format));
      return;
    }
    const at = now();
    const results: BatchAckResult[] = [];
    // The alarms of one link are acknowledged in one act: their announcement goes out as one mail.
    const open = alarms.filter((alarm) => !alarm.ack);
    const outcomes = await options.acknowledge(open.map((alarm) => ({ alarmId: alarm.id, ack: { by: receiver, channel: 'link' as const, at, ref: 'link' } })));
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
      send(res, method, notFoundPage(`None of the alarms of ${batchId} are in the store any more.`));
      return;
    }
    send(res, method, batchResultPage(batch, results, receiver, options.format));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger.error({ err: error }, 'acknowledgement request failed; answered 500');
      if (!res.headersSent) send(res, req.method ?? 'GET', plainPage(500, 'Error', 'The gateway could not handle this request. Nothing may have been recorded; try again.'));
      else res.destroy();
    });
  });
  server.headersTimeout = 15_000;
  server.requestTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    const onError = (error: Error): void => reject(error);
    server.once('error', onError);
    server.listen(options.listen.port, options.listen.address, () => {
      server.off('error', onError);
      resolve();
    });
  });
  server.on('error', (error) => logger.error({ err: error }, 'acknowledgement server error'));
  logger.info({ address: server.address() }, 'acknowledgement link server listening');

  return {
    address: () => server.address() as AddressInfo,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function safePath(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://localhost').pathname;
  } catch {
    return undefined;
  }
}

function send(res: ServerResponse, method: string, page: Page): void {
  const body = Buffer.from(page.html, 'utf8');
  res.statusCode = page.status;
  for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  res.setHeader('Content-Type', 'text/html; charset=utf-8');
  res.setHeader('Content-Length', body.length);
  res.end(method === 'HEAD' ? undefined : body);
}
