import { connect, type Socket } from 'node:net';

/**
 * A field device speaking SMTP over a raw socket, as badly as real ones do.
 * - `polite`: waits for each reply (like swaks).
 * - `early-pipelining`: writes EHLO the moment it connects and every later command
 *   without reading a reply (the Arduino/Controllino mail sketch).
 * - `bare-lf`: polite, but ends every line, and DATA, with a bare LF.
 */
export type DeviceBehaviour = 'polite' | 'early-pipelining' | 'bare-lf';

export interface DeviceMail {
  port: number;
  host?: string;
  localAddress?: string;
  helo?: string;
  mailFrom: string;
  rcptTo: string[];
  /** Message bytes as the device writes them after DATA. */
  data: Buffer;
  behaviour?: DeviceBehaviour;
  useHelo?: boolean;
  timeoutMs?: number;
}

export interface DeviceResult {
  /** Every reply line the gateway sent, in order. */
  replies: string[];
  /** The reply to the end of DATA (the one that says whether the gateway took the mail). */
  dataReply?: string;
  closedByServer: boolean;
}

/** Dot-stuffs and terminates message data the way the device's line ending says. */
function dataBlock(data: Buffer, eol: '\r\n' | '\n'): Buffer {
  let text = data.toString('latin1');
  text = text.replace(/(^|\n)\./g, '$1..');
  if (!text.endsWith('\n')) text += eol;
  return Buffer.from(`${text}.${eol}`, 'latin1');
}

export async function sendAsDevice(mail: DeviceMail): Promise<DeviceResult> {
  const behaviour = mail.behaviour ?? 'polite';
  const eol = behaviour === 'bare-lf' ? '\n' : '\r\n';
  const hello = `${mail.useHelo ? 'HELO' : 'EHLO'} ${mail.helo ?? 'device.plant.local'}`;
  const commands = [hello, `MAIL FROM: <${mail.mailFrom}>`, ...mail.rcptTo.map((r) => `RCPT TO: <${r}>`), 'DATA'];
  const socket = connect({ port: mail.port, host: mail.host ?? '127.0.0.1', localAddress: mail.localAddress });
  const replies: string[] = [];
  let buffer = '';
  let closed = false;
  const waiters: Array<() => void> = [];
  socket.on('data', (chunk: Buffer) => {
    buffer += chunk.toString('latin1');
    let index;
    while ((index = buffer.indexOf('\n')) >= 0) {
      replies.push(buffer.slice(0, index).replace(/\r$/, ''));
      buffer = buffer.slice(index + 1);
    }
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('close', () => {
    closed = true;
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('error', () => {});

  const deadline = Date.now() + (mail.timeoutMs ?? 10_000);
  const finalReplies = (): string[] => replies.filter((l) => /^\d{3} /.test(l));
  const waitForFinalReplies = async (count: number): Promise<void> => {
    while (finalReplies().length < count && !closed) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`device timed out waiting for reply ${count}; got: ${replies.join(' | ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  };

  try {
    if (behaviour === 'early-pipelining') {
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(commands.map((c) => c + eol).join('') + dataBlock(mail.data, eol).toString('latin1') + `QUIT${eol}`, 'latin1');
      // greeting + EHLO + MAIL + RCPTs + DATA(354) + end of data + QUIT
      await waitForFinalReplies(commands.length + 3);
    } else {
      await waitForFinalReplies(1);
      if (!finalReplies()[0]?.startsWith('220')) return { replies, closedByServer: closed };
      for (const command of commands) {
        const before = finalReplies().length;
        socket.write(command + eol, 'latin1');
        await waitForFinalReplies(before + 1);
        const last = finalReplies().at(-1) ?? '';
        if (closed || (!last.startsWith('2') && !last.startsWith('3'))) return { replies, closedByServer: closed };
      }
      const before = finalReplies().length;
      socket.write(dataBlock(mail.data, eol));
      await waitForFinalReplies(before + 1);
      socket.write(`QUIT${eol}`);
      await waitForFinalReplies(before + 2);
    }
  } finally {
    socket.end();
  }
  const finals = finalReplies();
  const dataIndex = finals.findIndex((l) => l.startsWith('354'));
  return { replies, dataReply: dataIndex >= 0 ? finals[dataIndex + 1] : undefined, closedByServer: closed };
}

/** Opens a connection and returns the first reply line (the greeting or a refusal). */
export async function greetingFrom(port: number, localAddress?: string): Promise<{ line: string; socket: Socket }> {
  const socket = connect({ port, host: '127.0.0.1', localAddress });
  socket.on('error', () => {});
  const line = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error('no greeting')), 5000);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      const index = buffer.indexOf('\n');
      if (index >= 0) {
        clearTimeout(timer);
        resolve(buffer.slice(0, index).replace(/\r$/, ''));
      }
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(buffer.replace(/\r?\n$/, ''));
    });
  });
  return { line, socket };
}

/**
 * A one-line alarm mail from `device@plant.local` (the devices' senders in the e2e
 * configurations), as a polite device sends it; fails the test unless the gateway takes it.
 */
export async function sendDeviceAlarm(port: number, device: string, subject: string): Promise<void> {
  const data = Buffer.from(`From: ${device}@plant.local\r\nTo: alarms@plant.local\r\nSubject: ${subject}\r\n\r\n${subject}\r\n`);
  const result = await sendAsDevice({ port, mailFrom: `${device}@plant.local`, rcptTo: ['alarms@plant.local'], data });
  if (!/^250 /.test(result.dataReply ?? '')) throw new Error(`the gateway did not take ${device}'s alarm "${subject}": ${result.replies.join(' | ')}`);
}
