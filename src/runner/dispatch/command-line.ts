// Turns a parsed command template plus one request's values into what is spawned: an argv (no
// shell; values are plain strings) or, when the template needs it, `/bin/sh -c` with every value
// shell-escaped for the quoting context it sits in.
import { escapeshellarg, rawurlencode } from '../../mediawiki/php-encoding.js';
import type { Placeholder, PlaceholderValues } from './placeholders.js';
import type { ParsedCommandTemplate, QuoteContext, Word } from './shell-words.js';

export interface CommandSpec {
  readonly file: string;
  readonly args: readonly string[];
  /** Extra environment from leading NAME=value words (argv mode). */
  readonly env: Readonly<Record<string, string>>;
  /** The command as a shell line, for logs (not yet secret-masked). */
  readonly display: string;
  readonly viaShell: boolean;
}

function argvValue(placeholder: Placeholder, values: PlaceholderValues): string {
  const value = values[placeholder.name];
  return placeholder.encoding === 'u' ? rawurlencode(value) : value;
}

function renderWord(word: Word, values: PlaceholderValues): string {
  let out = '';
  for (const segment of word.segments) {
    out += 'text' in segment ? segment.text : argvValue(segment.placeholder, values);
  }
  return out;
}

/**
 * %(…)x is PHP escapeshellarg() like the original, but closed and reopened around quotes so the
 * value stays one literal even where the template put it inside quotes (the original would have
 * split or expanded it there). rawurlencode output has no shell-special characters except `~`, so
 * unquoted it is single-quoted.
 */
function shellValue(placeholder: Placeholder, context: QuoteContext, values: PlaceholderValues): string {
  const value = values[placeholder.name];
  if (placeholder.encoding === 'u') {
    const encoded = rawurlencode(value);
    return context === 'none' ? `'${encoded}'` : encoded;
  }
  const quoted = escapeshellarg(value);
  if (context === 'single') return `'${quoted}'`;
  if (context === 'double') return `"${quoted}"`;
  return quoted;
}

const PLAIN_ARG = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes an argv element for display only when needed. */
export function displayArg(arg: string): string {
  return PLAIN_ARG.test(arg) ? arg : escapeshellarg(arg);
}

export function buildCommand(parsed: ParsedCommandTemplate, values: PlaceholderValues): CommandSpec {
  if (parsed.shellReason !== null) {
    let line = '';
    for (const piece of parsed.pieces) {
      line += 'raw' in piece ? piece.raw : shellValue(piece.placeholder, piece.context, values);
    }
    return { file: '/bin/sh', args: ['-c', line], env: {}, display: line, viaShell: true };
  }
  const env: Record<string, string> = {};
  const shown: string[] = [];
  for (const { name, value } of parsed.assignments) {
    env[name] = renderWord(value, values);
    shown.push(`${name}=${displayArg(env[name])}`);
  }
  const argv = parsed.words.map((word) => renderWord(word, values));
  const [file = '', ...args] = argv;
  shown.push(...argv.map(displayArg));
  return { file, args, env, display: shown.join(' '), viaShell: false };
}
