import { crlfFromBareLf, type LineEndingState } from './bare-lf.js';

/**
 * The parts of smtp-server's connection and parser that leniency hooks into. They are
 * internal to smtp-server, so the version is pinned in package.json and the e2e tests
 * for early talkers and bare LF fail loudly if an upgrade moves them.
 */
interface SmtpParserInternals {
  oncommand: (command: Buffer, callback?: () => void) => void;
  _feedDataStream: (chunk: Buffer, done: (err?: Error) => void) => void;
  _atDataStart: boolean;
}

export interface SmtpConnectionInternals {
  _ready: boolean;
  _closing: boolean;
  _parser: SmtpParserInternals | false;
  _sendGreeting: () => void;
  connectionReady: (next?: () => void) => void;
  remoteAddress: string;
  send: (code: number, message: string) => void;
  close: () => void;
}

export function isPatchableConnection(value: unknown): value is SmtpConnectionInternals {
  const c = value as Partial<SmtpConnectionInternals> | null;
  return (
    !!c &&
    typeof c._sendGreeting === 'function' &&
    typeof c.connectionReady === 'function' &&
    typeof c.send === 'function' &&
    !!c._parser &&
    typeof c._parser.oncommand === 'function' &&
    typeof c._parser._feedDataStream === 'function'
  );
}

/**
 * Lets a device talk before the 220 greeting: its first command waits (and with it the
 * rest of its pipelined input, since the parser reads no further) until the greeting
 * is out, instead of being answered "421 You talk too soon".
 */
export function holdEarlyCommands(connection: SmtpConnectionInternals): void {
  const parser = connection._parser;
  if (!parser) return;
  const handleCommand = parser.oncommand;
  let held: { command: Buffer; callback?: () => void } | undefined;
  parser.oncommand = (command, callback) => {
    if (connection._ready || connection._closing) return handleCommand(command, callback);
    held = { command, callback };
  };
  const sendGreeting = connection._sendGreeting.bind(connection);
  connection._sendGreeting = () => {
    sendGreeting();
    if (held) {
      const { command, callback } = held;
      held = undefined;
      handleCommand(command, callback);
    }
  };
}

/** Reads message data with bare LF line endings, including a bare-LF end of data `\n.\n`. */
export function acceptBareLfData(connection: SmtpConnectionInternals): void {
  const parser = connection._parser;
  if (!parser) return;
  const feed = parser._feedDataStream.bind(parser);
  const state: LineEndingState = { lastWasCr: false };
  parser._feedDataStream = (chunk, done) => {
    if (parser._atDataStart) state.lastWasCr = false;
    feed(crlfFromBareLf(chunk, state), done);
  };
}

/**
 * smtp-server holds every greeting back 100 ms to catch early talkers. A trusted device
 * may talk early anyway (see holdEarlyCommands), so it is greeted at once; the delayed
 * call that smtp-server scheduled then does nothing.
 */
export function greetWithoutDelay(connection: SmtpConnectionInternals): void {
  const ready = connection.connectionReady.bind(connection);
  let greeted = false;
  connection.connectionReady = (next) => {
    if (greeted) return;
    greeted = true;
    ready(next);
  };
  setImmediate(() => {
    if (!connection._closing) connection.connectionReady();
  });
}
