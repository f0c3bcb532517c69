import { parentPort, workerData } from 'node:worker_threads';
import type { Account } from '../config/types.js';
import { releaseBytes } from '../base/release-bytes.js';
import { createSender, type AccountSender } from './account-sender.js';
import { reviveAccounts, type SenderThreadData, type ThreadReply, type ThreadRequest } from './thread-protocol.js';

/**
 * The delivery thread: holds the upstream connections (nodemailer pools, TLS, AUTH, OAuth2
 * tokens) and sends what the outbox worker on the main thread hands it, so composing SMTP
 * streams and TLS does not compete with ingest and the pipeline for one core.
 */
const data = workerData as SenderThreadData;
const senders = new Map<string, AccountSender>(reviveAccounts(data.accounts).map((a: Account) => [a.name, createSender(a, data.hostname, data.connections)]));
const port = parentPort!;

port.on('message', (request: ThreadRequest) => {
  if (request.type === 'close') {
    for (const sender of senders.values()) sender.close();
    port.postMessage({ type: 'closed' } satisfies ThreadReply);
    return;
  }
  const sender = senders.get(request.account);
  if (!sender) {
    port.postMessage({ type: 'failed', id: request.id, error: { message: `no account ${request.account} in the delivery thread` } } satisfies ThreadReply);
    return;
  }
  // This thread's own copy of the message (posting copied it).
  const message = Buffer.from(request.request.message.buffer, request.request.message.byteOffset, request.request.message.byteLength);
  sender.send({ ...request.request, message }).then(
    (result) => {
      // Sent whole, so no socket write holds it any more. After a failure it is left to the collector.
      releaseBytes(message);
      port.postMessage({ type: 'sent', id: request.id, result } satisfies ThreadReply);
    },
    (error: unknown) => {
      // What classifyDeliveryError reads of a nodemailer error, since an Error does not cross threads whole.
      const e = (error ?? {}) as { code?: unknown; responseCode?: unknown; response?: unknown; command?: unknown; message?: unknown };
      port.postMessage({
        type: 'failed',
        id: request.id,
        error: {
          ...(typeof e.code === 'string' ? { code: e.code } : {}),
          ...(typeof e.responseCode === 'number' ? { responseCode: e.responseCode } : {}),
          ...(typeof e.response === 'string' ? { response: e.response } : {}),
          ...(typeof e.command === 'string' ? { command: e.command } : {}),
          message: typeof e.message === 'string' ? e.message : String(error),
        },
      } satisfies ThreadReply);
    },
  );
});
