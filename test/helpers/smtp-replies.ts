import type { Socket } from 'node:net';

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
