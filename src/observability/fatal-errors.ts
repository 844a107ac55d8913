// What a daemon does after an uncaught exception or an unhandled promise rejection: its state is
// unknown (a slot may never be freed, a partition may never be committed again), so it takes no
// new work, lets what is running finish, and exits 1 for systemd to restart it. Logged once; a
// second error while draining is logged but changes nothing.
import type { Logger } from './logger.js';

export const FATAL_EXIT_CODE = 1;

export interface FatalErrorHandling {
  readonly logger: Logger;
  /** Stop taking work and let running work finish; resolves when done (the caller's own bound). */
  readonly drain: () => Promise<unknown>;
  /** Exit anyway this long after the first error (drain's own bound plus a margin). */
  readonly deadlineMs: number;
  /** For tests; process.exit by default. */
  readonly exit?: (code: number) => void;
}

function errorFields(error: unknown): { error: string; stack?: string } {
  if (error instanceof Error) return { error: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  return { error: String(error) };
}

/** The reaction to one fatal error (exported for tests); the first call drains and exits. */
export function fatalErrorHandler(handling: FatalErrorHandling): (what: string, error: unknown) => void {
  const { logger, drain, deadlineMs } = handling;
  const exit = handling.exit ?? ((code: number) => process.exit(code));
  let failing = false;
  return (what, error) => {
    if (failing) {
      logger.error(`${what} while draining after an earlier error`, errorFields(error));
      return;
    }
    failing = true;
    logger.error(`${what}; taking no new work, draining, then exiting ${FATAL_EXIT_CODE}`, {
      ...errorFields(error),
      deadlineMs,
    });
    let exited = false;
    const exitOnce = () => {
      if (exited) return;
      exited = true;
      exit(FATAL_EXIT_CODE);
    };
    const deadline = setTimeout(() => {
      logger.error('Drain after an uncaught error took too long; exiting now', { deadlineMs });
      exitOnce();
    }, deadlineMs);
    drain()
      .catch((drainError: unknown) => logger.error('Error while draining', errorFields(drainError)))
      .finally(() => {
        clearTimeout(deadline);
        exitOnce();
      });
  };
}

/** Installs the uncaughtException / unhandledRejection handlers; returns a function removing them. */
export function exitOnUncaughtErrors(handling: FatalErrorHandling): () => void {
  const handle = fatalErrorHandler(handling);
  const onException = (error: unknown) => handle('Uncaught exception', error);
  const onRejection = (error: unknown) => handle('Unhandled promise rejection', error);
  process.on('uncaughtException', onException);
  process.on('unhandledRejection', onRejection);
  return () => {
    process.off('uncaughtException', onException);
    process.off('unhandledRejection', onRejection);
  };
}
