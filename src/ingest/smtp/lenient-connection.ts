import { BareLfData } from './bare-lf.js';

/**
 * The parts of smtp-server's connection and parser that leniency hooks into. They are
 * internal to smtp-server, so the version is pinned in package.json and the e2e tests
 * for early talkers and bare LF fail loudly if an upgrade moves them.
 */
interface SmtpParserInternals {
  oncommand: (command: Buffer, callback?: () => void) => void;
  /** The Writable's _write: every chunk from the socket, and the rest of a chunk once DATA began. */
  _write: (chunk: Buffer, encoding: BufferEncoding, next: (err?: Error | null) => void) => void;
  _dataMode: boolean;
  /** The current DATA's stream: a new object for every DATA. */
  _dataStream: object | null;
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
    typeof c._parser._write === 'function' &&
    typeof c._parser._dataMode === 'boolean'
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

/**
 * Reads message data with bare LF line endings: `<LF>.<LF>` ends DATA as well as
 * `<CR><LF>.<CR><LF>`, and nothing else does (bare-lf.ts). The parser's _write is wrapped, not
 * its data feed: the feed calls itself again on the rest of a chunk after a stuffed dot,
 * which must not be rewritten twice. `onMixedDotLine` is told once per DATA that a dot line
 * between two different line endings was kept as content.
 */
export function acceptBareLfData(connection: SmtpConnectionInternals, onMixedDotLine: () => void): void {
  const parser = connection._parser;
  if (!parser) return;
  const write = parser._write.bind(parser);
  let current: { stream: object | null; data: BareLfData } | undefined;
  parser._write = (chunk, encoding, next) => {
    if (!parser._dataMode) return write(chunk, encoding, next);
    if (current?.stream !== parser._dataStream) current = { stream: parser._dataStream, data: new BareLfData() };
    const { data } = current;
    const mixedBefore = data.mixedDotLines;
    const rewritten = data.transform(chunk);
    if (mixedBefore === 0 && data.mixedDotLines > 0) onMixedDotLine();
    write(rewritten, encoding, next);
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
