// Shell-style reading of a dispatcher command template. It splits the template into words the way
// /bin/sh would (quotes, backslashes, placeholders inside words) and notes anything only a shell can
// do (pipes, redirections, $expansions, globs, builtins…). Placeholders stay symbolic, so their
// values are never seen by any parser: without a shell they become plain argv strings.
// Each placeholder's quoting context is noted; a `$(` inside double quotes opens a new unquoted
// context until its `)`, and an unquoted here-document's body counts as double-quoted (expansions,
// no word splitting), as in the shell.
import { DispatchConfigError, placeholderAt, type Placeholder } from './placeholders.js';

export type QuoteContext = 'none' | 'single' | 'double';

export type Segment = { readonly text: string } | { readonly placeholder: Placeholder };

export interface Word {
  readonly segments: readonly Segment[];
}

/** The template cut around its placeholders, each with the quoting it appears in. */
export type TemplatePiece =
  { readonly raw: string } | { readonly placeholder: Placeholder; readonly context: QuoteContext };

export interface ParsedCommandTemplate {
  readonly pieces: readonly TemplatePiece[];
  /** Leading NAME=value words (environment for the command). */
  readonly assignments: readonly { readonly name: string; readonly value: Word }[];
  /** The command and its arguments after quote removal. */
  readonly words: readonly Word[];
  /** Why the template must run under /bin/sh -c; null when it can be exec'd directly. */
  readonly shellReason: string | null;
}

// Shell builtins and keywords: as a command word they need a shell even without operators.
// prettier-ignore
const SHELL_COMMANDS = new Set([
  'exec', 'cd', 'export', 'set', 'unset', 'eval', '.', 'source', 'ulimit', 'umask', 'trap', 'if', 'for',
  'while', 'until', 'case', 'readonly', 'shift', 'wait', 'local', 'alias', 'exit', 'return', 'break',
  'continue', 'time', 'builtin', 'command',
]);

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=/;

interface HereDoc {
  readonly delimiter: string;
  /** Quotes or a backslash in the delimiter: the body is taken literally, no expansions. */
  readonly quoted: boolean;
  /** `<<-`: leading tabs are stripped from body lines and the delimiter line. */
  readonly stripTabs: boolean;
  /** Index just after the delimiter word. */
  readonly end: number;
}

/** Reads `<<WORD` / `<<-WORD` at `start` (quote removal on WORD, as the shell does). */
function readHereDocOperator(template: string, start: number): HereDoc {
  let i = start + 2;
  const stripTabs = template[i] === '-';
  if (stripTabs) i++;
  while (template[i] === ' ' || template[i] === '\t') i++;
  let delimiter = '';
  let quoted = false;
  let quote: string | null = null;
  for (; i < template.length; i++) {
    const ch = template[i] as string;
    if (quote !== null) {
      if (ch === quote) quote = null;
      else delimiter += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      quoted = true;
    } else if (ch === '\\') {
      quoted = true;
      delimiter += template[i + 1] ?? '';
      i++;
    } else if (' \t\n;|&<>()'.includes(ch)) break;
    else delimiter += ch;
  }
  return { delimiter, quoted, stripTabs, end: i };
}

class WordBuilder {
  segments: Segment[] = [];
  /** Unquoted, unescaped literal text at the start of the word (to spot NAME=value). */
  plainPrefix = '';
  prefixOpen = true;

  addText(text: string, plain: boolean): void {
    const last = this.segments[this.segments.length - 1];
    if (last && 'text' in last) this.segments[this.segments.length - 1] = { text: last.text + text };
    else this.segments.push({ text });
    if (this.prefixOpen && plain) this.plainPrefix += text;
    else this.prefixOpen = false;
  }

  addPlaceholder(placeholder: Placeholder): void {
    this.segments.push({ placeholder });
    this.prefixOpen = false;
  }
}

export function parseCommandTemplate(template: string, where = 'dispatcher'): ParsedCommandTemplate {
  const pieces: TemplatePiece[] = [];
  // assignment: [NAME, length of "NAME="] when the word could be a NAME=value assignment.
  const words: { word: Word; assignment: [string, number] | null }[] = [];
  let shellReason: string | null = null;
  let state: QuoteContext = 'none';
  // `$(` opened inside double quotes: the state to go back to at its `)`, and `(` nesting inside.
  const substitutions: { depth: number }[] = [];
  let word: WordBuilder | null = null;
  let cut = 0;
  const hereDocs: HereDoc[] = [];

  const needShell = (reason: string): void => {
    shellReason ??= reason;
  };
  const current = (): WordBuilder => (word ??= new WordBuilder());
  const endWord = (): void => {
    if (!word) return;
    const match = ASSIGNMENT.exec(word.plainPrefix);
    words.push({
      word: { segments: word.segments },
      assignment: match ? [match[1] as string, match[0].length] : null,
    });
    word = null;
  };

  /** Skips the bodies of the here-documents started on the line that ends at `newline`. */
  const skipHereDocBodies = (newline: number): number => {
    let at = newline + 1;
    for (const doc of hereDocs.splice(0)) {
      while (at < template.length) {
        const end = template.indexOf('\n', at);
        const lineEnd = end === -1 ? template.length : end;
        const line = template.slice(at, lineEnd);
        if ((doc.stripTabs ? line.replace(/^\t+/, '') : line) === doc.delimiter) {
          at = lineEnd + 1;
          break;
        }
        for (let j = at; j < lineEnd; j++) {
          const found = template[j] === '%' ? placeholderAt(template, j, where) : null;
          if (!found) continue;
          if (doc.quoted) {
            throw new DispatchConfigError(
              `${where}: placeholder in a here-document with a quoted delimiter (<<'${doc.delimiter}'), ` +
                'where the shell cannot be handed its value; quote nothing in the delimiter',
            );
          }
          if (cut < j) pieces.push({ raw: template.slice(cut, j) });
          pieces.push({ placeholder: found.placeholder, context: 'double' });
          j += found.length - 1;
          cut = j + 1;
        }
        at = lineEnd + 1;
      }
    }
    return at - 1;
  };

  for (let i = 0; i < template.length; i++) {
    const ch = template[i] as string;
    if (ch === '%') {
      const found = placeholderAt(template, i, where);
      if (found) {
        if (cut < i) pieces.push({ raw: template.slice(cut, i) });
        pieces.push({ placeholder: found.placeholder, context: state });
        current().addPlaceholder(found.placeholder);
        i += found.length - 1;
        cut = i + 1;
        continue;
      }
    }
    if (state === 'single') {
      if (ch === "'") state = 'none';
      else current().addText(ch, false);
      continue;
    }
    if (state === 'double') {
      if (ch === '"') state = 'none';
      else if (ch === '\\') {
        const next = template[i + 1];
        if (next === '\n') i++;
        else if (next !== undefined && '$`"\\'.includes(next)) {
          current().addText(next, false);
          i++;
        } else current().addText(ch, false);
      } else {
        if (ch === '$' || ch === '`') needShell(`'${ch}' expansion inside double quotes`);
        current().addText(ch, false);
        if (ch === '$' && template[i + 1] === '(' && template[i + 2] !== '(') {
          current().addText('(', false);
          i++;
          substitutions.push({ depth: 0 });
          state = 'none';
        }
      }
      continue;
    }
    // Unquoted.
    const substitution = substitutions[substitutions.length - 1];
    if (substitution !== undefined && (ch === '(' || ch === ')')) {
      current().addText(ch, false);
      if (ch === '(') substitution.depth++;
      else if (substitution.depth > 0) substitution.depth--;
      else {
        substitutions.pop();
        state = 'double';
      }
      continue;
    }
    if (ch === ' ' || ch === '\t') {
      endWord();
    } else if (ch === '\n') {
      needShell('a newline (command separator)');
      endWord();
      if (hereDocs.length > 0) i = skipHereDocBodies(i);
    } else if (ch === '<' && template[i + 1] === '<' && template[i + 2] !== '<') {
      needShell("shell operator '<'");
      endWord();
      const doc = readHereDocOperator(template, i);
      hereDocs.push(doc);
      i = doc.end - 1;
    } else if (ch === "'" || ch === '"') {
      state = ch === "'" ? 'single' : 'double';
      current().prefixOpen = false;
    } else if (ch === '\\') {
      const next = template[i + 1];
      if (next === '\n') i++;
      else if (next === undefined) current().addText(ch, false);
      else {
        current().addText(next, false);
        i++;
      }
    } else {
      if ('|&;<>()$`'.includes(ch)) needShell(`shell operator '${ch}'`);
      else if ('*?['.includes(ch)) needShell(`glob character '${ch}'`);
      else if ('{}!'.includes(ch)) needShell(`shell syntax '${ch}'`);
      else if (word === null && (ch === '~' || ch === '#')) {
        needShell(ch === '~' ? 'tilde expansion' : 'a comment');
      }
      current().addText(ch, true);
    }
  }
  if (state !== 'none') {
    throw new DispatchConfigError(`${where}: unterminated ${state === 'single' ? 'single' : 'double'} quote`);
  }
  if (substitutions.length > 0) {
    throw new DispatchConfigError(`${where}: unterminated $( inside double quotes`);
  }
  endWord();
  if (cut < template.length) pieces.push({ raw: template.slice(cut) });

  const assignments: { name: string; value: Word }[] = [];
  let index = 0;
  for (; index < words.length; index++) {
    const { word: assigned, assignment } = words[index] as (typeof words)[number];
    if (assignment === null) break;
    // Drop "NAME=" from the first (text) segment; the rest is the value.
    const [name, prefixLength] = assignment;
    const [first, ...rest] = assigned.segments as [{ text: string }, ...Segment[]];
    const value = first.text.slice(prefixLength);
    assignments.push({ name, value: { segments: value === '' ? rest : [{ text: value }, ...rest] } });
  }
  const commandWords = words.slice(index).map((entry) => entry.word);
  const first = commandWords[0];
  if (first === undefined) throw new DispatchConfigError(`${where}: no command in template`);
  const head = first.segments[0];
  if (first.segments.length === 1 && head !== undefined && 'text' in head && SHELL_COMMANDS.has(head.text)) {
    needShell(`shell builtin '${head.text}'`);
  }
  return { pieces, assignments, words: commandWords, shellReason };
}
