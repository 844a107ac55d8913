// Everything the demo started, undone in reverse order. Each step runs even when an earlier one
// failed; failures are collected so the demo can report them and exit non-zero.

export class Cleanup {
  private readonly steps: { what: string; run: () => Promise<void> | void }[] = [];
  private ran = false;

  add(what: string, run: () => Promise<void> | void): void {
    this.steps.push({ what, run });
  }

  /** Runs every step once, newest first; returns "what: error" for each step that failed. */
  async runAll(): Promise<string[]> {
    if (this.ran) return [];
    this.ran = true;
    const problems: string[] = [];
    for (const step of this.steps.reverse()) {
      try {
        await step.run();
      } catch (error) {
        problems.push(`${step.what}: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    return problems;
  }
}
