// Optional JSON-lines log file beside stdout. logrotate moves the file and sends SIGUSR1; the daemon
// then reopens it (no restart, unlike the original's daily restarts, W34). A full disk or a
// read-only directory never stops the daemon: the failure is reported once on stderr, file output
// pauses, and reopening is retried on the next SIGUSR1 or after a minute.
import { createWriteStream, type WriteStream } from 'node:fs';
import { Writable } from 'node:stream';

const RETRY_AFTER_MS = 60_000;

export class LogFileSink extends Writable {
  private stream: WriteStream | null = null;
  private failedAt = 0;
  private failureReported = false;

  constructor(
    readonly path: string,
    private readonly reportProblem: (message: string) => void = (m) => process.stderr.write(m + '\n'),
  ) {
    super();
    this.open();
  }

  /** Closes and reopens the file (after logrotate moved it). */
  reopen(): void {
    const old = this.stream;
    this.stream = null;
    old?.end();
    this.failureReported = false;
    this.open();
  }

  get healthy(): boolean {
    return this.stream !== null;
  }

  private open(): void {
    const stream = createWriteStream(this.path, { flags: 'a', mode: 0o640 });
    stream.on('error', (error) => this.fail(stream, error));
    this.stream = stream;
  }

  private fail(stream: WriteStream, error: Error): void {
    if (this.stream === stream) this.stream = null;
    stream.destroy();
    this.failedAt = Date.now();
    if (!this.failureReported) {
      this.failureReported = true;
      this.reportProblem(
        JSON.stringify({
          level: 'error',
          msg: 'Log file not writable; logging to stdout only until it can be reopened',
          file: this.path,
          error: error.message,
        }),
      );
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.stream === null && Date.now() - this.failedAt > RETRY_AFTER_MS) this.open();
    // Never propagate file errors to the logger: stdout logging must continue regardless.
    if (this.stream !== null) this.stream.write(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (this.stream) this.stream.end(() => callback());
    else callback();
  }
}
