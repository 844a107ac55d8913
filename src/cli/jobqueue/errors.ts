// Exit codes and the error type of the jobqueue CLI.

export const EXIT_OK = 0;
/** Something failed or was refused: an unreachable partition, a Redis error, a declined prompt. */
export const EXIT_FAILURE = 1;
/** Bad command line or configuration. */
export const EXIT_USAGE = 2;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILURE,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
