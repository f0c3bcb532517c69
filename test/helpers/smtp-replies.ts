import { once } from 'node:events';
import { connect, type Socket } from 'node:net';

/**
 * The final reply lines (`250 ...`, not `250-...`) a raw SMTP socket receives, for tests that
 * speak SMTP by hand: `until(n)` resolves once n of them have come or the socket closed.
 */
export function smtpReplies(socket: Socket): { finals: string[]; closed: () => boolean; until: (count: number) => Promise<void> } {
  const finals: string[] = [];
  let buffer = '';
  let closed = false;
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    let i;
    while ((i = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, i).replace(/\r$/, '');
      buffer = buffer.slice(i + 1);
      if (/^\d{3} /.test(line)) finals.push(line);
    }
    wake?.();
  });
  socket.on('close', () => {
    closed = true;
    wake?.();
  });
  return {
    finals,
    closed: () => closed,
    async until(count: number): Promise<void> {
      while (finals.length < count && !closed) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

/**
 * Opens an SMTP session by hand from `localAddress` (a host outside the trusted networks is
 * 127.0.0.2) and sends `commands`, each after the reply to the one before; it stops early
 * when the server closes the session or, with `stopAt354`, once DATA is accepted.
 */
export async function smtpDialog(port: number, commands: string[], options: { localAddress?: string; stopAt354?: boolean } = {}): Promise<{ socket: Socket; replies: ReturnType<typeof smtpReplies> }> {
  const socket = connect({ port, host: '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
  socket.on('error', () => {});
  const replies = smtpReplies(socket);
  await once(socket, 'connect');
  await replies.until(1);
  for (const command of commands) {
    const before = replies.finals.length;
    socket.write(`${command}\r\n`);
    await replies.until(before + 1);
    if (replies.closed() || (options.stopAt354 && replies.finals.at(-1)?.startsWith('354'))) break;
  }
  return { socket, replies };
}
