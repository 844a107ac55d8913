// A real winston JSON logger (the services' own) whose lines are kept for assertions.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export type LogLine = Record<string, unknown> & { msg?: string; level?: string };

export function captureLogger(
  service: string,
  level: 'info' | 'debug' = 'debug',
): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const text of chunk.toString().split('\n')) {
        if (text.trim() !== '') lines.push(JSON.parse(text) as LogLine);
      }
      done();
    },
  });
  return { logger: createLogger({ service, level, stream }), lines };
}

/** A logger whose output goes nowhere, for code that needs one. */
export function silentLogger(): Logger {
  return createLogger({
    service: 'test',
    level: 'error',
    stream: new Writable({ write: (_chunk, _enc, done: () => void) => done() }),
  });
}
