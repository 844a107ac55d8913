// Shell-style reading of a dispatcher command template. It splits the template into words the way
// /bin/sh would (quotes, backslashes, placeholders inside words) and notes anything only a shell can
// do (pipes, redirections, $expansions, globs, builtins…). Placeholders stay symbolic, so their
// values are never seen by any parser: without a shell they become plain argv strings.
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
  let word: WordBuilder | null = null;
  let cut = 0;

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
      }
      continue;
    }
    // Unquoted.
    if (ch === ' ' || ch === '\t') {
      endWord();
    } else if (ch === '\n') {
      needShell('a newline (command separator)');
      endWord();
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
