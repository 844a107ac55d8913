// The one way a benchmark entry ends: with its main's exit code, or with the error's stack and 1.

/** Runs `main` and exits with the code it returns (0 when none); a throw prints "<name> failed: …". */
export function runBench(name: string, main: () => Promise<number | void>): void {
  main().then(
    (code) => process.exit(code ?? 0),
    (error: unknown) => {
      process.stderr.write(
        `${name} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
      );
      process.exit(1);
    },
  );
}
