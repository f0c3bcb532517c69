import { connect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';

/** One alarm as a device sends it; `token` is what the benchmark correlates it by upstream. */
export interface DeviceMessage {
  token: number;
  mailFrom: string;
  rcptTo: string;
  /** Header and body lines joined with CRLF, without the terminating dot. */
  data: string;
}

export interface DeviceTiming {
  token: number;
  /** performance.now() right after the final `.` was handed to the socket. */
  dataEndAt: number;
  /** performance.now() when the gateway's reply to the final `.` (its 250) arrived. */
  acceptedAt: number;
}

interface Reply {
  code: number;
  text: string;
}

/** Reads SMTP replies off a socket, folding `250-` continuation lines into their final line. */
class ReplyReader {
  private buffer = '';
  private lines: string[] = [];
  private readonly replies: Reply[] = [];
  private waiting: { resolve: (reply: Reply) => void; reject: (error: Error) => void } | undefined;
  private failure: Error | undefined;

  constructor(socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => this.feed(chunk));
    socket.on('error', (error: Error) => this.fail(error));
    socket.on('close', () => this.fail(new Error(`connection closed by the gateway; last lines: ${this.lines.join(' | ')}`)));
  }

  next(timeoutMs: number): Promise<Reply> {
    const ready = this.replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no SMTP reply within ${timeoutMs} ms`)), timeoutMs);
      this.waiting = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  private feed(chunk: string): void {
    this.buffer += chunk;
    let index: number;
    while ((index = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, index).replace(/\r$/, '');
      this.buffer = this.buffer.slice(index + 1);
      this.lines.push(line);
      if (/^\d{3} /.test(line) || /^\d{3}$/.test(line)) this.deliver({ code: Number(line.slice(0, 3)), text: this.lines.join('\n') });
    }
  }

  private deliver(reply: Reply): void {
    this.lines = [];
    const waiting = this.waiting;
    this.waiting = undefined;
    if (waiting) waiting.resolve(reply);
    else this.replies.push(reply);
  }

  private fail(error: Error): void {
    this.failure ??= error;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.reject(this.failure);
  }
}

async function expect(reader: ReplyReader, code: number, step: string, timeoutMs: number): Promise<void> {
  const reply = await reader.next(timeoutMs);
  if (reply.code !== code) throw new Error(`${step}: expected ${code}, gateway said: ${reply.text}`);
}

/** Dot-stuffing per RFC 5321 4.5.2, so any body the benchmark generates goes through intact. */
function dataBlock(data: string): string {
  return `${data.replace(/^\./gm, '..')}\r\n.\r\n`;
}

/**
 * One device connection: greeting, EHLO, then for each message MAIL/RCPT/DATA written in
 * one go (PIPELINING, as the gateway advertises it), the data, and its 250. It waits for
 * each 250 before the next message so that DATA->250 is the gateway's commit latency
 * alone, not time spent queued behind the previous message.
 */
export async function deviceSession(port: number, messages: DeviceMessage[], timeoutMs = 30_000): Promise<DeviceTiming[]> {
  const socket = connect({ port, host: '127.0.0.1' });
  socket.setNoDelay(true);
  const reader = new ReplyReader(socket);
  const timings: DeviceTiming[] = [];
  try {
    await expect(reader, 220, 'greeting', timeoutMs);
    socket.write('EHLO plc.bench.local\r\n');
    await expect(reader, 250, 'EHLO', timeoutMs);
    for (const message of messages) {
      socket.write(`MAIL FROM:<${message.mailFrom}>\r\nRCPT TO:<${message.rcptTo}>\r\nDATA\r\n`);
      await expect(reader, 250, 'MAIL FROM', timeoutMs);
      await expect(reader, 250, 'RCPT TO', timeoutMs);
      await expect(reader, 354, 'DATA', timeoutMs);
      socket.write(dataBlock(message.data));
      const dataEndAt = performance.now();
      await expect(reader, 250, `end of data (bench-${message.token})`, timeoutMs);
      timings.push({ token: message.token, dataEndAt, acceptedAt: performance.now() });
    }
    socket.write('QUIT\r\n');
    await expect(reader, 221, 'QUIT', timeoutMs);
  } finally {
    socket.end();
  }
  return timings;
}
