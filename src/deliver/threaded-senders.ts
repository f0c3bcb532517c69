import { Worker } from 'node:worker_threads';
import type { Account } from '../config/types.js';
import type { AccountSender, SendRequest, SendResult } from './account-sender.js';
import { flattenAccounts, type SenderThreadData, type ThreadReply, type ThreadRequest } from './thread-protocol.js';

/** A failure the delivery thread reported, with the fields of the nodemailer error it stands for. */
class ThreadedSendError extends Error {
  constructor(fields: { code?: string; responseCode?: number; response?: string; command?: string; message: string }) {
    super(fields.message);
    Object.assign(this, fields);
  }
}

/**
 * The accounts' senders running in one delivery thread (src/deliver/sender-thread.ts): the
 * same AccountSender interface, so the outbox worker does not know the difference. The
 * thread never keeps the process alive; closing the last sender ends it.
 */
export function startThreadedSenders(accounts: readonly Account[], hostname: string, connections: number): AccountSender[] {
  const data: SenderThreadData = { accounts: flattenAccounts(accounts), hostname, connections };
  // Small young generation: the thread holds connections and short-lived buffers, no large heap.
  // The command's --max-semi-space-size is one V8 flag for the process and overrides this, so
  // under it the thread gets the main thread's semi-spaces. Kept that way: clearing the flag
  // for the thread (v8.setFlagsFromString) saved ~8 MiB of peak for 3-8 % more CPU per mail.
  const worker = new Worker(threadEntry(), { workerData: data, resourceLimits: { maxYoungGenerationSizeMb: 8 } });
  worker.unref();
  const waiting = new Map<number, { resolve: (result: SendResult) => void; reject: (error: unknown) => void }>();
  let next = 0;
  let open = accounts.length;
  let ended: Error | undefined;
  const fail = (error: Error): void => {
    ended = error;
    for (const w of waiting.values()) w.reject(error);
    waiting.clear();
  };
  worker.on('message', (reply: ThreadReply) => {
    if (reply.type === 'closed') {
      void worker.terminate();
      return;
    }
    const w = waiting.get(reply.id);
    if (!w) return;
    waiting.delete(reply.id);
    if (reply.type === 'sent') w.resolve(reply.result);
    else w.reject(new ThreadedSendError(reply.error));
  });
  // A send in flight when the thread dies is retried by the outbox like any failed attempt.
  worker.on('error', (error) => fail(new ThreadedSendError({ code: 'ETHREAD', message: `the delivery thread failed: ${error.message}` })));
  worker.on('exit', () => fail(new ThreadedSendError({ code: 'ETHREAD', message: 'the delivery thread ended' })));

  return accounts.map((account) => ({
    name: account.name,
    description: account.type === 'file' ? `directory ${account.directory}` : `${account.host}:${account.port} (${account.security})`,
    send(request: SendRequest): Promise<SendResult> {
      if (ended) return Promise.reject(ended);
      const id = (next += 1);
      return new Promise<SendResult>((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        worker.postMessage({ type: 'send', id, account: account.name, request } satisfies ThreadRequest);
      });
    },
    close(): void {
      open -= 1;
      if (open === 0 && !ended) worker.postMessage({ type: 'close' } satisfies ThreadRequest);
    },
  }));
}

/**
 * The built thread file; or, when the gateway runs from its TypeScript sources (the tests,
 * under tsx), a small module that registers tsx in the thread first: a thread does not
 * inherit the loader hooks of `--import tsx`.
 */
function threadEntry(): URL {
  if (!import.meta.url.endsWith('.ts')) return new URL('./sender-thread.js', import.meta.url);
  const source = new URL('./sender-thread.ts', import.meta.url).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  return new URL(`data:text/javascript,${encodeURIComponent(`const { register } = await import(${JSON.stringify(tsx)}); register(); await import(${JSON.stringify(source)});`)}`);
}
