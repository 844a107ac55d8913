// Tolerant JSON reading with positions: jsonc-parser strips // and /* */ comments outside strings
// only (W31) and accepts trailing commas (W32), and its syntax tree lets every problem point at
// the exact line:column of the key or value it is about.
import { getLocation, getNodeValue, parseTree, printParseErrorCode, stripComments } from 'jsonc-parser';
import type { Node, ParseError } from 'jsonc-parser';
import { ConfigError } from './errors.js';
import type { ConfigIssue } from './errors.js';
import { formatJsonPath } from './json-path.js';
import type { JsonPath } from './json-path.js';

export interface JsoncDocument {
  readonly file: string;
  readonly root: Node;
  readonly value: unknown;
  readonly lineStarts: readonly number[];
}

export interface Position {
  readonly line: number;
  readonly column: number;
}

/** Parses the text or throws a ConfigError naming file:line:column of the first syntax error. */
export function parseJsoncDocument(rawText: string, file: string): JsoncDocument {
  // A UTF-8 byte-order mark is invisible in editors; drop it rather than call it a syntax error.
  const text = rawText.startsWith('\uFEFF') ? rawText.slice(1) : rawText;
  const lineStarts = computeLineStarts(text);
  if (stripComments(text).trim() === '') {
    const message = text.trim() === '' ? 'the file is empty' : 'the file holds nothing but comments';
    throw new ConfigError([
      { file, path: '', line: 0, column: 0, message: `${message}; expected a JSON object` },
    ]);
  }
  const errors: ParseError[] = [];
  const root = parseTree(text, errors, { allowTrailingComma: true, disallowComments: false });
  const first = errors[0];
  if (first !== undefined) {
    // Only the first error is reliable; the ones after it are usually follow-on errors.
    const { line, column } = positionAt(lineStarts, first.offset);
    const path = formatJsonPath(syntaxErrorPath(text, first.offset));
    const message = `syntax error: ${describeSyntaxError(first, text)}`;
    throw new ConfigError([{ file, path, line, column, message }]);
  }
  if (root === undefined) {
    throw new ConfigError([
      { file, path: '', line: 0, column: 0, message: 'no JSON value found; expected a JSON object' },
    ]);
  }
  return { file, root, value: getNodeValue(root) as unknown, lineStarts };
}

/** Where in the document a syntax error is; a trailing '' (an expected property name) says nothing. */
function syntaxErrorPath(text: string, offset: number): (string | number)[] {
  const path = [...getLocation(text, offset).path];
  while (path[path.length - 1] === '') path.pop();
  return path;
}

// Never quotes the offending text: a broken line may hold a password.
function describeSyntaxError(error: ParseError, text: string): string {
  const code = printParseErrorCode(error.error);
  const path = syntaxErrorPath(text, error.offset);
  const inList = typeof path[path.length - 1] === 'number';
  switch (code) {
    case 'InvalidSymbol':
      if (getLocation(text, error.offset).isAtPropertyKey)
        return 'unexpected text; expected a property name in double quotes';
      return 'unexpected text; expected a JSON value (a "double-quoted" string, a number, true, false, null, {...} or [...])';
    case 'InvalidNumberFormat':
      return 'malformed number; expected digits such as 42 or 1.5 (no leading zeros)';
    case 'PropertyNameExpected':
      return 'expected a property name in double quotes';
    case 'ValueExpected':
      return 'expected a value';
    case 'ColonExpected':
      return "expected ':' after the property name";
    case 'CommaExpected':
      return inList ? "expected ',' or ']' after a list entry" : "expected ',' or '}' after a property";
    case 'CloseBraceExpected':
      return "expected '}' to close an object";
    case 'CloseBracketExpected':
      return "expected ']' to close a list";
    case 'EndOfFileExpected':
      return 'expected the end of the file after the top-level value';
    case 'InvalidCommentToken':
      return 'malformed comment; expected // or /* */';
    case 'UnexpectedEndOfComment':
      return "a /* comment is not closed; expected '*/'";
    case 'UnexpectedEndOfString':
      return "a string is not closed; expected '\"' before the end of the line";
    case 'UnexpectedEndOfNumber':
      return 'a number is cut short; expected more digits';
    case 'InvalidUnicode':
      return 'malformed \\u escape; expected four hex digits';
    case 'InvalidEscapeCharacter':
      return 'unknown escape in a string; expected one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX';
    case 'InvalidCharacter':
      return 'control character inside a string; expected it escaped (e.g. \\t, \\n)';
    default:
      return 'malformed JSON';
  }
}

function computeLineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 13 /* \r */) {
      if (text.charCodeAt(i + 1) === 10) i++;
      starts.push(i + 1);
    } else if (ch === 10 /* \n */) {
      starts.push(i + 1);
    }
  }
  return starts;
}

/** 1-based line and column (UTF-16 units) of an offset. */
export function positionAt(lineStarts: readonly number[], offset: number): Position {
  let low = 0;
  let high = lineStarts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((lineStarts[mid] ?? 0) <= offset) low = mid;
    else high = mid - 1;
  }
  return { line: low + 1, column: offset - (lineStarts[low] ?? 0) + 1 };
}

/** The value node at a path; with duplicate keys the last one wins, as in the parsed value. */
export function nodeAt(root: Node, path: JsonPath): Node | undefined {
  let node: Node | undefined = root;
  for (const segment of path) {
    if (node === undefined) return undefined;
    node = childOf(node, segment);
  }
  return node;
}

function childOf(node: Node, segment: string | number): Node | undefined {
  if (node.type === 'array' && typeof segment === 'number') return node.children?.[segment];
  if (node.type !== 'object') return undefined;
  let found: Node | undefined;
  for (const property of node.children ?? []) {
    const key = property.children?.[0];
    if (key !== undefined && key.value === String(segment)) found = property.children?.[1];
  }
  return found;
}

/**
 * Where to point for a path: the key or value if it exists, otherwise the key of the nearest
 * ancestor that exists (e.g. a missing `groups.basic.runners` points at `"basic"`).
 */
export function locate(doc: JsoncDocument, path: JsonPath, at: 'key' | 'value' = 'value'): Position {
  const node = nodeAt(doc.root, path);
  if (node !== undefined) return positionAt(doc.lineStarts, offsetOf(node, at));
  for (let length = path.length - 1; length >= 0; length--) {
    const ancestor = nodeAt(doc.root, path.slice(0, length));
    if (ancestor !== undefined) return positionAt(doc.lineStarts, offsetOf(ancestor, 'key'));
  }
  return positionAt(doc.lineStarts, doc.root.offset);
}

function offsetOf(node: Node, at: 'key' | 'value'): number {
  const key = node.parent?.type === 'property' ? node.parent.children?.[0] : undefined;
  return at === 'key' && key !== undefined ? key.offset : node.offset;
}

/** Keys given twice in one object: JSON keeps the last silently, which hides typos. */
export function duplicateKeyIssues(doc: JsoncDocument): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const walk = (node: Node, path: (string | number)[]): void => {
    if (node.type === 'array') {
      (node.children ?? []).forEach((child, index) => walk(child, [...path, index]));
      return;
    }
    if (node.type !== 'object') return;
    const seen = new Map<string, Node>();
    for (const property of node.children ?? []) {
      const [key, value] = property.children ?? [];
      if (key === undefined || typeof key.value !== 'string') continue;
      const earlier = seen.get(key.value);
      if (earlier !== undefined) {
        const first = positionAt(doc.lineStarts, earlier.offset);
        issues.push({
          path: [...path, key.value],
          offset: key.offset,
          message: `duplicate key '${key.value}' (also at line ${first.line}:${first.column}); only the last one counts`,
        });
      }
      seen.set(key.value, key);
      if (value !== undefined) walk(value, [...path, key.value]);
    }
  };
  walk(doc.root, []);
  return issues;
}
