import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/log/logger.js';

/** A JSON logger at `level` whose lines the test reads back, parsed, in `lines` (a fresh array, or the one given). */
export function capturedLogs<Line = Record<string, unknown>>(level = 'info', lines: Line[] = []): { logger: Logger; lines: Line[] } {
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Line);
      callback();
    },
  });
  return { logger: createLogger({ level, format: 'json', destination: stream }), lines };
}
