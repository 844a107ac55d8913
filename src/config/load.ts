// Entry points for reading jobrunner.conf: tolerant JSON (comments, trailing commas), schema
// validation with defaults, the original's merge rules, and errors that give file:line:col and
// JSON path. Secrets (redis.password) are masked in every message.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { maskSecrets } from '../observability/logger.js';
import { buildConfig } from './build-config.js';
import { ConfigError, formatProblem } from './errors.js';
import type { ConfigIssue, ConfigProblem } from './errors.js';
import { formatJsonPath, isPlainObject } from './json-path.js';
import { duplicateKeyIssues, locate, nodeAt, parseJsoncDocument, positionAt } from './jsonc-document.js';
import type { JsoncDocument } from './jsonc-document.js';
import { validateConfigValue } from './schema.js';
import { fileReadReason } from './secret-file.js';
import type { JobrunnerConfig } from './types.js';

/** Keys and values echoed in a message stay on one line (a newline in a key cannot forge a problem). */
function escapeControls(text: string): string {
  let out = '';
  for (const c of text) {
    const code = c.charCodeAt(0);
    const control = code < 0x20 || code === 0x7f || code === 0x2028 || code === 0x2029;
    out += control ? `\\u${code.toString(16).padStart(4, '0')}` : c;
  }
  return out;
}

/** Reads and validates a config file. @throws ConfigError listing every problem found */
export function loadConfigFile(path: string): JobrunnerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    const message = `${fileReadReason(error).replace('the file', 'the configuration file')}`;
    throw new ConfigError([{ file: path, path: '', line: 0, column: 0, message }]);
  }
  return parseConfigText(text, path);
}

/**
 * Parses and validates config text. `sourcePath` names the file in messages; the returned
 * config's sourcePath is its absolute form.
 * @throws ConfigError listing every problem found
 */
export function parseConfigText(text: string, sourcePath: string): JobrunnerConfig {
  const doc = parseJsoncDocument(text, sourcePath);
  const secrets = collectSecrets(doc.value);
  const toProblem = (issue: ConfigIssue): ConfigProblem => {
    const { line, column } =
      issue.offset !== undefined
        ? positionAt(doc.lineStarts, issue.offset)
        : locate(doc, issue.path, issue.at);
    return {
      file: sourcePath,
      path: maskSecrets(formatJsonPath(issue.path), secrets),
      line,
      column,
      message: escapeControls(maskSecrets(issue.message, secrets)),
    };
  };
  const fail = (issues: ConfigIssue[]): never => {
    throw new ConfigError(sortProblems(issues.map(toProblem)));
  };

  if (!isPlainObject(doc.value)) {
    fail([
      {
        path: [],
        message: `expected a JSON object {...} at the top level, got ${Array.isArray(doc.value) ? 'a list' : 'a single value'}`,
      },
    ]);
  }
  const duplicates = duplicateKeyIssues(doc);
  const validated = validateConfigValue(doc.value);
  if (!validated.valid) return fail(validated.issues);
  const built = buildConfig(validated.config, groupOrder(doc), resolve(sourcePath));
  if (built.errors.length > 0) fail(built.errors);
  const warnings = sortProblems([...duplicates, ...built.warnings].map(toProblem)).map(formatProblem);
  return { ...built.config, warnings };
}

/** Values that must never be echoed, taken from the raw document so they are masked even when invalid. */
function collectSecrets(value: unknown): string[] {
  const redis = isPlainObject(value) ? value.redis : undefined;
  const password = isPlainObject(redis) ? redis.password : undefined;
  return typeof password === 'string' && password !== '' ? [password] : [];
}

/** Group names in file order, each once (JS objects list integer-like keys first). */
function groupOrder(doc: JsoncDocument): string[] {
  const groups = nodeAt(doc.root, ['groups']);
  const names: string[] = [];
  for (const property of groups?.type === 'object' ? (groups.children ?? []) : []) {
    const key = property.children?.[0]?.value;
    if (typeof key === 'string' && !names.includes(key)) names.push(key);
  }
  return names;
}

function sortProblems(problems: ConfigProblem[]): ConfigProblem[] {
  const unique = [...new Map(problems.map((problem) => [formatProblem(problem), problem])).values()];
  return unique.sort((a, b) => a.line - b.line || a.column - b.column);
}
