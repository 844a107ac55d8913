// Structured JSON logs (one object per line, keys sorted). Every daemon and CLI takes its logger
// from here so fields stay consistent: ts, level, msg, service, plus event-specific fields.
// Written directly, not through winston: one JSON line per call to one or two streams is all the
// daemons need, and winston with its formats and streams cost each daemon ~8 MB and ~35 ms of CPU
// at start (README "Scale"). safe-stable-stringify (what winston used) serializes: sorted keys,
// "[Circular]" for cycles, BigInt as a string.
import { configure } from 'safe-stable-stringify';
import { LogFileSink } from './log-file.js';
import { maskSecrets, maskStrings } from './secret-mask.js';

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';
export type LogFields = Record<string, unknown>;

export interface Logger {
  error(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  debug(msg: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
  setLevel(level: LogLevel): void;
}

/** What the daemons need beyond Logger: secrets learned from config, and the optional log file. */
export interface DaemonLogger extends Logger {
  addSecrets(secrets: readonly string[]): void;
  /** Also write every line to this file (logging.file); replaces an earlier file. */
  setLogFile(path: string | undefined): void;
  /** Reopen the log file (SIGUSR1 from logrotate). */
  reopenLogFile(): void;
}

export interface LoggerOptions {
  service: string;
  level?: LogLevel;
  /** Defaults to stdout; tests pass a stream to capture lines. */
  stream?: NodeJS.WritableStream;
  /** Strings that must never appear in output (passwords, secret keys, tokens). */
  secrets?: readonly string[];
}

export { maskSecrets };

const SEVERITY: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3 };
const stringify = configure({ bigint: true, circularValue: '[Circular]' });

/** What loggers made by child() share with their parent: level, outputs, secrets. */
interface Sink {
  level: LogLevel;
  readonly stream: NodeJS.WritableStream;
  file: LogFileSink | null;
  readonly secrets: string[];
}

class JsonLogger implements DaemonLogger {
  constructor(
    private readonly sink: Sink,
    /** Fields of every line (service, and a child's own); a call's fields override them. */
    private readonly base: LogFields,
  ) {}

  setLogFile(path: string | undefined): void {
    if (this.sink.file?.path === path) return;
    this.sink.file?.end();
    this.sink.file = path === undefined ? null : new LogFileSink(path);
  }

  reopenLogFile(): void {
    this.sink.file?.reopen();
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (SEVERITY[level] > SEVERITY[this.sink.level]) return;
    const line = {
      ...this.base,
      ...(fields ? this.mask(fields) : {}),
      level,
      msg: maskSecrets(msg, this.sink.secrets),
      ts: new Date().toISOString(),
    };
    const text = `${stringify(line) ?? '{}'}\n`;
    this.sink.stream.write(text);
    this.sink.file?.write(text);
  }

  /** Masks before serializing: a JSON-escaped secret would no longer match. */
  private mask(fields: LogFields): LogFields {
    if (this.sink.secrets.length === 0) return fields;
    return maskStrings(fields, (text) => maskSecrets(text, this.sink.secrets)) as LogFields;
  }

  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.sink, { ...this.base, ...this.mask(fields) });
  }
  setLevel(level: LogLevel): void {
    this.sink.level = level;
  }
  /** Adds secrets learned later (e.g. after a config reload). */
  addSecrets(secrets: readonly string[]): void {
    for (const s of secrets) if (s && !this.sink.secrets.includes(s)) this.sink.secrets.push(s);
  }
}

export function createLogger(options: LoggerOptions): DaemonLogger {
  const sink: Sink = {
    level: options.level ?? 'info',
    stream: options.stream ?? process.stdout,
    file: null,
    secrets: [...(options.secrets ?? [])],
  };
  return new JsonLogger(sink, { service: options.service });
}
