// The CLI dispatcher: renders the `dispatcher` command template for one (wiki, type) and runs it,
// normally `php …/runJobs.php --wiki=%(db)x --type=%(type)x … --result=json`.
import type { Logger } from '../../observability/logger.js';
import { parseRunJobsOutput } from '../../mediawiki/runjobs-result.js';
import { buildCommand, type CommandSpec } from './command-line.js';
import type { Masker } from './masking.js';
import { placeholderValues } from './placeholders.js';
import { failedResult, okResult, type ResultContext } from './result.js';
import { runChild, type ChildRunResult } from './run-child.js';
import { parseCommandTemplate, type ParsedCommandTemplate } from './shell-words.js';
import { InFlight, abortReason } from './in-flight.js';
import type { DispatchRequest, DispatchResult, Dispatcher } from './types.js';

/** Far more than any real runJobs JSON (≈100 bytes per job); beyond it the output is not parsed. */
export const STDOUT_CAP_BYTES = 8 * 1024 * 1024;
export const STDERR_TAIL_BYTES = 64 * 1024;

export interface CommandDispatcherOptions {
  readonly template: string;
  readonly killGraceSeconds: number;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly mask: Masker;
  readonly stdoutCapBytes?: number;
  readonly stderrTailBytes?: number;
}

function firstLine(text: string, max = 300): string {
  const line = text
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  if (line === undefined) return '(no output)';
  return line.length > max ? `${line.slice(0, max)}…` : line;
}

export class CommandDispatcher implements Dispatcher {
  readonly kind = 'command' as const;
  private readonly parsed: ParsedCommandTemplate;
  private readonly inFlight = new InFlight<DispatchResult>();

  constructor(private readonly options: CommandDispatcherOptions) {
    this.parsed = parseCommandTemplate(options.template, 'dispatch.template');
    if (this.parsed.shellReason !== null) {
      options.logger.info('dispatcher template needs a shell; running it under /bin/sh -c', {
        reason: this.parsed.shellReason,
      });
    }
  }

  private get stdoutCap(): number {
    return this.options.stdoutCapBytes ?? STDOUT_CAP_BYTES;
  }

  /** True when the template is exec'd directly (no /bin/sh). */
  get direct(): boolean {
    return this.parsed.shellReason === null;
  }

  dispatch(request: DispatchRequest, abort: AbortSignal): Promise<DispatchResult> {
    const ctx = (durationMs: number): ResultContext => ({
      target: this.options.template,
      durationMs,
      mask: this.options.mask,
    });
    return this.inFlight.run(
      () => this.run(request, abort),
      (error, durationMs) => failedResult(ctx(durationMs), 'error', 'spawn', error),
      () => failedResult(ctx(0), 'aborted', 'aborted', 'dispatcher is closed'),
    );
  }

  close(): Promise<void> {
    return this.inFlight.close();
  }

  private async run(request: DispatchRequest, abort: AbortSignal): Promise<DispatchResult> {
    const spec = buildCommand(this.parsed, placeholderValues(request));
    const child = await runChild({
      file: spec.file,
      args: spec.args,
      env: { ...this.options.env, ...spec.env },
      timeoutMs: request.realLimitSeconds * 1000,
      killGraceMs: this.options.killGraceSeconds * 1000,
      abort,
      stdoutCapBytes: this.stdoutCap,
      stderrTailBytes: this.options.stderrTailBytes ?? STDERR_TAIL_BYTES,
    });
    if (child.strays > 0) {
      this.options.logger.warn('dispatch child left processes behind in its group; they were killed', {
        wiki: request.wiki,
        type: request.type,
        strays: child.strays,
        target: this.options.mask(spec.display),
      });
    }
    if (child.survivors.length > 0) {
      this.options.logger.error('dispatch child processes survived SIGKILL (stuck in the kernel?)', {
        wiki: request.wiki,
        type: request.type,
        pids: child.survivors,
        target: this.options.mask(spec.display),
      });
    }
    return this.interpret(request, spec, child, abort);
  }

  private interpret(
    request: DispatchRequest,
    spec: CommandSpec,
    child: ChildRunResult,
    abort: AbortSignal,
  ): DispatchResult {
    const ctx: ResultContext = {
      target: spec.display,
      durationMs: child.durationMs,
      mask: this.options.mask,
    };
    const status = {
      exitCode: child.exitCode,
      signal: child.signal,
      ...(child.killed ? { killed: child.killed } : {}),
    };
    if (child.spawnError) {
      return failedResult(ctx, 'error', 'spawn', `could not start ${spec.file}: ${child.spawnError.message}`);
    }
    const output = child.stderr.trim() !== '' ? child.stderr : child.stdout;
    const parsed = !child.stdoutTruncated && child.exitCode === 0 ? parseRunJobsOutput(child.stdout) : null;
    const partial = parsed && 'result' in parsed ? parsed.result : null;
    if (child.aborted) {
      const how = child.killed ? `; process group sent ${child.killed}` : '';
      return failedResult(ctx, 'aborted', 'aborted', `dispatch aborted (${abortReason(abort)})${how}`, {
        ...status,
        excerpt: output,
        result: partial,
      });
    }
    if (child.timedOut) {
      return failedResult(
        ctx,
        'timeout',
        'timeout',
        `no result within ${request.realLimitSeconds}s (limits.real); process group sent ${child.killed ?? 'SIGTERM'}`,
        { ...status, excerpt: output, result: partial },
      );
    }
    if (child.signal !== null) {
      return failedResult(ctx, 'error', 'signal', `killed by signal ${child.signal}`, {
        ...status,
        excerpt: output,
      });
    }
    if (child.exitCode !== 0) {
      return failedResult(
        ctx,
        'error',
        'exit-code',
        `exited with status ${child.exitCode}: ${firstLine(output)}`,
        {
          ...status,
          excerpt: output,
        },
      );
    }
    if (child.stdoutTruncated) {
      return failedResult(
        ctx,
        'error',
        'bad-output',
        `stdout was ${child.stdoutBytes} bytes, over the ${this.stdoutCap}-byte cap; result not parsed`,
        { ...status, excerpt: child.stdout.slice(0, 4096) },
      );
    }
    if (parsed && 'error' in parsed) {
      const stderrPart = child.stderr.trim() !== '' ? `\n--- stderr ---\n${child.stderr}` : '';
      return failedResult(ctx, 'error', 'bad-output', `output is not a runJobs result: ${parsed.error}`, {
        ...status,
        excerpt: `${child.stdout}${stderrPart}`,
      });
    }
    return okResult(ctx, partial as NonNullable<typeof partial>, status, child.stderr);
  }
}
