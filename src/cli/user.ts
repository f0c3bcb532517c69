import { hashPassword } from '../base/password-hash.js';
import { EXIT } from './exit-codes.js';

/** Passwords shorter than this are refused: a login over the network is guessed by anyone who can reach it. */
const MIN_PASSWORD_LENGTH = 8;

/**
 * `annunciator user hash`: reads a password and prints its scrypt hash line for
 * `http.users[].passwordHash` (put it in a file or an environment variable, not in the
 * configuration). Piped, the password is the first line of standard input; on a
 * terminal it is asked for twice, without echo.
 */
export async function userHashCommand(): Promise<number> {
  let password: string | undefined;
  if (process.stdin.isTTY) {
    const first = await promptHidden('Password: ');
    const again = first === undefined ? undefined : await promptHidden('Again: ');
    if (first === undefined || again === undefined) return EXIT.failure;
    if (first !== again) {
      process.stderr.write('annunciator user hash: the two passwords differ; nothing printed\n');
      return EXIT.failure;
    }
    password = first;
  } else {
    const input = await readAll(process.stdin);
    password = input.split(/\r?\n/)[0] ?? '';
  }
  if (password.length < MIN_PASSWORD_LENGTH) {
    process.stderr.write(`annunciator user hash: the password has ${password.length} characters; it needs at least ${MIN_PASSWORD_LENGTH}\n`);
    return EXIT.dataErr;
  }
  process.stdout.write(`${await hashPassword(password)}\n`);
  return EXIT.ok;
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

/** One line from the terminal with echo off (raw mode); undefined on Ctrl-C or Ctrl-D. */
function promptHidden(prompt: string): Promise<string | undefined> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  stdin.setEncoding('utf8');
  return new Promise((resolve) => {
    let line = '';
    const done = (value: string | undefined): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      resolve(value);
    };
    const onData = (text: string): void => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n') return done(line);
        if (ch === '\u0003' || ch === '\u0004') return done(undefined);
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else if (ch >= ' ') line += ch;
      }
    };
    stdin.on('data', onData);
  });
}
