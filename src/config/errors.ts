// Config problems carry file, JSON path and line:column so an operator can go straight to the spot.

export interface ConfigProblem {
  /** The config file as named by the caller (or the secret file for secret-file problems). */
  readonly file: string;
  /** JSON path such as `groups.basic.runners`; '' when the problem is about the whole file. */
  readonly path: string;
  /** 1-based; 0 when the problem has no position (e.g. the file cannot be read). */
  readonly line: number;
  readonly column: number;
  /** Plain words: what is wrong and what was expected. Never contains secret values. */
  readonly message: string;
}

/** `FILE:LINE:COL: PATH: MESSAGE`, dropping the parts a problem does not have. */
export function formatProblem(problem: ConfigProblem): string {
  const where = problem.line > 0 ? `${problem.file}:${problem.line}:${problem.column}` : problem.file;
  return problem.path === ''
    ? `${where}: ${problem.message}`
    : `${where}: ${problem.path}: ${problem.message}`;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];

  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** A problem found before file positions are known: a JSON path plus which part of it to point at. */
export interface ConfigIssue {
  readonly path: readonly (string | number)[];
  /** 'key' points at the property name, 'value' at its value (the default). */
  readonly at?: 'key' | 'value';
  /** Exact text offset, when the path alone is ambiguous (e.g. a key given twice). */
  readonly offset?: number;
  readonly message: string;
}
