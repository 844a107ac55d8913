// Validation against src/config/jobrunner.schema.json (the single source of truth for keys, types,
// ranges and defaults). ajv fills in the defaults; its errors are rewritten into plain words.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv2020, ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { AJV_OPTIONS } from './ajv-options.js';
import type { ConfigIssue } from './errors.js';
import { closestKey } from './did-you-mean.js';
import { formatJsonPath, isPlainObject, pointerToPath } from './json-path.js';
import type { RawConfig } from './raw-types.js';

export interface SchemaNode {
  readonly description?: string;
  readonly type?: string | readonly string[];
  readonly enum?: readonly unknown[];
  readonly default?: unknown;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: SchemaNode | boolean;
  readonly required?: readonly string[];
  readonly items?: SchemaNode;
  readonly $ref?: string;
  readonly $defs?: Readonly<Record<string, SchemaNode>>;
  readonly else?: SchemaNode;
  readonly pattern?: string;
}

const SCHEMA_URL = new URL('./jobrunner.schema.json', import.meta.url);

let schemaCache: SchemaNode | undefined;
let validatorCache: ValidateFunction<RawConfig> | undefined;

export function loadSchema(): SchemaNode {
  schemaCache ??= JSON.parse(readFileSync(SCHEMA_URL, 'utf8')) as SchemaNode;
  return schemaCache;
}

/** File name of the validator compiled at build time, next to the built schema.ts. */
export const PRECOMPILED_VALIDATOR = './jobrunner.validator.cjs';

/**
 * The validator scripts/build-validator.mjs wrote into dist/ (saves the 100–250 ms Ajv needs to
 * compile the schema on every daemon and CLI start), or undefined when running from src/.
 */
function precompiledValidator(): ValidateFunction<RawConfig> | undefined {
  const require = createRequire(import.meta.url);
  const path = new URL(PRECOMPILED_VALIDATOR, import.meta.url);
  if (!existsSync(path)) return undefined;
  return require(path.pathname) as ValidateFunction<RawConfig>;
}

/** Ajv itself is loaded only here: with the precompiled validator the daemons never need it. */
function compileAtRunTime(): ValidateFunction<RawConfig> {
  const require = createRequire(import.meta.url);
  const { Ajv2020: AjvClass } = require('ajv/dist/2020.js') as { Ajv2020: typeof Ajv2020 };
  return new AjvClass(AJV_OPTIONS).compile<RawConfig>(loadSchema());
}

let validatorOrigin: 'precompiled' | 'compiled at run time' | undefined;

function validator(): ValidateFunction<RawConfig> {
  if (validatorCache === undefined) {
    const precompiled = precompiledValidator();
    validatorOrigin = precompiled ? 'precompiled' : 'compiled at run time';
    validatorCache = precompiled ?? compileAtRunTime();
  }
  return validatorCache;
}

/** Where the validator in use came from (for the test that both agree). */
export function schemaValidatorOrigin(): typeof validatorOrigin {
  validator();
  return validatorOrigin;
}

/** Follows a local "#/$defs/x" reference. */
export function resolveRef(node: SchemaNode): SchemaNode {
  if (node.$ref === undefined) return node;
  const name = node.$ref.replace(/^#\/\$defs\//, '');
  const target = loadSchema().$defs?.[name];
  if (target === undefined) throw new Error(`schema reference ${node.$ref} not found`);
  return { ...resolveRef(target), ...withoutRef(node) };
}

function withoutRef(node: SchemaNode): SchemaNode {
  const copy: Record<string, unknown> = { ...node };
  delete copy.$ref;
  return copy as SchemaNode;
}

/** The schema default at a property path, e.g. ['limits', 'attempts'] → {"*": 3}. */
export function schemaDefault(path: readonly string[]): unknown {
  let node: SchemaNode = loadSchema();
  for (const key of path) {
    const next = resolveRef(node).properties?.[key];
    if (next === undefined) throw new Error(`schema has no property ${path.join('.')}`);
    node = next;
  }
  return structuredClone(node.default);
}

/**
 * Validates `data` and fills in the schema defaults in place. Valid: `data` now has the RawConfig
 * shape. Invalid: the problems in plain words, each with the JSON path it is about.
 */
export function validateConfigValue(
  data: unknown,
): { valid: true; config: RawConfig } | { valid: false; issues: ConfigIssue[] } {
  const validate = validator();
  if (validate(data)) return { valid: true, config: data };
  const errors = withoutNestedTypeErrors(validate.errors ?? []);
  const issues = errors.flatMap((error) => describeError(error, data) ?? []);
  // "missing 'runners'" adds nothing next to "unknown key 'runers'; did you mean 'runners'?".
  const suggested = new Set(
    issues.flatMap((issue) => (issue.suggests !== undefined ? [issue.suggests] : [])),
  );
  return {
    valid: false,
    issues: issues.filter((issue) => issue.missing === undefined || !suggested.has(issue.missing)),
  };
}

/**
 * A value of the wrong type also fails the type check of a nested branch (statsd: 8125 fails
 * "string or object" and then the object form's "object"); the outermost type error says it best.
 */
function withoutNestedTypeErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const outermost = new Map<string, ErrorObject>();
  for (const error of errors) {
    if (error.keyword !== 'type') continue;
    const known = outermost.get(error.instancePath);
    if (known === undefined || error.schemaPath.length < known.schemaPath.length)
      outermost.set(error.instancePath, error);
  }
  return errors.filter((error) => error.keyword !== 'type' || outermost.get(error.instancePath) === error);
}

interface SchemaIssue extends ConfigIssue {
  /** additionalProperties: formatted path of the key the unknown key was probably meant to be. */
  readonly suggests?: string;
  /** required: formatted path of the missing key. */
  readonly missing?: string;
}

function describeError(error: ErrorObject, data: unknown): SchemaIssue | undefined {
  // "if" only says a then/else branch failed; the branch's own errors say why. Errors inside
  // propertyNames are reported once, by the propertyNames error itself.
  if (error.keyword === 'if' || error.propertyName !== undefined) return undefined;
  const path = pointerToPath(error.instancePath, data);
  const where = path.length === 0 ? 'at the top level' : `in ${formatJsonPath(path)}`;
  const params = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const known = Object.keys((error.parentSchema as SchemaNode | undefined)?.properties ?? {});
      const suggestion = closestKey(key, known);
      const hint =
        suggestion !== undefined ? `; did you mean '${suggestion}'?` : `; known keys: ${known.join(', ')}`;
      return {
        path: [...path, key],
        at: 'key',
        message: `unknown key '${key}' ${where}${hint}`,
        suggests: suggestion === undefined ? undefined : formatJsonPath([...path, suggestion]),
      };
    }
    case 'required': {
      const missing = [...path, String(params.missingProperty)];
      return {
        path: missing,
        message: `missing required key '${String(params.missingProperty)}' ${where}`,
        missing: formatJsonPath(missing),
      };
    }
    case 'propertyNames':
      return {
        path: [...path, String(params.propertyName)],
        at: 'key',
        message: `an empty key is not allowed ${where}`,
      };
    case 'type':
      return {
        path,
        message: `expected ${typeWords(params.type)}, got ${describeValue(error.data)}${quotedNumberHint(params.type, error.data)}`,
      };
    case 'minimum':
      return {
        path,
        message: `expected a number of at least ${String(params.limit)}, got ${describeValue(error.data)}`,
      };
    case 'exclusiveMinimum':
      return {
        path,
        message: `expected a number greater than ${String(params.limit)}, got ${describeValue(error.data)}`,
      };
    case 'maximum':
      return {
        path,
        message: `expected a number of at most ${String(params.limit)}, got ${describeValue(error.data)}`,
      };
    case 'minItems':
      return {
        path,
        message: `expected a list with at least ${String(params.limit)} entry, got an empty list`,
      };
    case 'minLength':
      return { path, message: 'expected a non-empty string' };
    case 'minProperties':
      return {
        path,
        message:
          path.length === 1 && path[0] === 'groups'
            ? 'expected at least one runner group, got none'
            : `expected at least ${String(params.limit)} entry, got none`,
      };
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map((v) => `'${String(v)}'`).join(', ');
      return { path, message: `expected one of ${allowed}, got ${describeValue(error.data, true)}` };
    }
    case 'pattern':
      return {
        path,
        message: `expected ${patternWords(String(params.pattern))}, got ${describeValue(error.data, true)}`,
      };
    default:
      return { path, message: `is not valid (${error.keyword})` };
  }
}

function typeWords(type: unknown): string {
  const names = Array.isArray(type) ? type.map(String) : [String(type)];
  const words: Record<string, string> = {
    integer: 'a whole number',
    number: 'a number',
    string: 'a string in double quotes',
    boolean: 'true or false',
    array: 'a list [...]',
    object: 'an object {...}',
    null: 'null',
  };
  return names.map((name) => words[name] ?? name).join(' or ');
}

/** What was found, without quoting strings unless asked (strings may be secrets; they are masked too). */
function describeValue(value: unknown, showString = false): string {
  if (typeof value === 'string') {
    if (!showString) return 'a string';
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  }
  if (typeof value === 'number') return String(value);
  if (typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'an object';
  return typeof value;
}

function quotedNumberHint(type: unknown, value: unknown): string {
  const wantsNumber = type === 'integer' || type === 'number';
  return wantsNumber && typeof value === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(value)
    ? ' (write the number without quotes)'
    : '';
}

const PATTERN_WORDS: Record<string, string> = {
  '^(?:[0-9]+[KMGkmg]?|-1)$': 'a PHP memory size such as "300M", "1G" or -1',
  '^https?://\\S+$': 'an http:// or https:// URL',
  '^\\S+$': 'a value without spaces',
  '^[A-Za-z0-9_.-]+$': "only letters, digits, '_', '-' and '.'",
};

function patternWords(pattern: string): string {
  return PATTERN_WORDS[pattern] ?? `text matching /${pattern}/`;
}
