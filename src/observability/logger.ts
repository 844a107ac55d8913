// Structured JSON logs (one object per line) through winston. Every daemon and CLI takes its logger
// from here so fields stay consistent: ts, level, msg, service, plus event-specific fields.
import winston from 'winston';
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

class WinstonLogger implements DaemonLogger {
  private fileTransport: winston.transport | null = null;
  private fileSink: LogFileSink | null = null;

  constructor(
    private readonly inner: winston.Logger,
    private readonly secrets: string[],
  ) {}

  setLogFile(path: string | undefined): void {
    if (this.fileSink?.path === path) return;
    if (this.fileTransport) this.inner.remove(this.fileTransport);
    this.fileSink?.end();
    this.fileTransport = null;
    this.fileSink = null;
    if (path === undefined) return;
    this.fileSink = new LogFileSink(path);
    this.fileTransport = new winston.transports.Stream({ stream: this.fileSink });
    this.inner.add(this.fileTransport);
  }

  reopenLogFile(): void {
    this.fileSink?.reopen();
  }

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    // One info object, not log(level, msg, meta): winston treats a msg containing "%s" (e.g. a job
    // type) as a format string and then drops the fields.
    this.inner.log({ ...(fields ? this.mask(fields) : {}), level, message: maskSecrets(msg, this.secrets) });
  }

  /** Masks before winston serializes: a JSON-escaped secret would no longer match. */
  private mask(fields: LogFields): LogFields {
    if (this.secrets.length === 0) return fields;
    return maskStrings(fields, (text) => maskSecrets(text, this.secrets)) as LogFields;
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
    return new WinstonLogger(this.inner.child(this.mask(fields)), this.secrets);
  }
  setLevel(level: LogLevel): void {
    this.inner.level = level;
  }
  /** Adds secrets learned later (e.g. after a config reload). */
  addSecrets(secrets: readonly string[]): void {
    for (const s of secrets) if (s && !this.secrets.includes(s)) this.secrets.push(s);
  }
}

export function createLogger(options: LoggerOptions): DaemonLogger {
  const stream = options.stream ?? process.stdout;
  const inner = winston.createLogger({
    level: options.level ?? 'info',
    defaultMeta: { service: options.service },
    format: winston.format.combine(
      winston.format.timestamp({ alias: 'ts' }),
      winston.format.errors({ stack: false }),
      winston.format((info) => {
        // "message" → "msg" keeps lines short and matches common log pipelines.
        info.msg = info.message;
        delete (info as { message?: unknown }).message;
        delete (info as { timestamp?: unknown }).timestamp;
        return info;
      })(),
      winston.format.json(),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
  return new WinstonLogger(inner, [...(options.secrets ?? [])]);
}
