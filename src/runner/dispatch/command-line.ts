// Turns a parsed command template plus one request's values into what is spawned: an argv (no
// shell; values are plain strings) or, when the template needs it, `/bin/sh -c`. In the shell form
// no value is ever part of the shell text: each placeholder becomes a reference to an environment
// variable (JR_DB, JR_TYPE… ; JR_DB_URLENCODED… for %(…)u) that holds the value, so whatever quoting,
// `$( … )`, `${…:-…}` or here-document the template puts it in, the shell never parses the value.
import { escapeshellarg, rawurlencode } from '../../mediawiki/php-encoding.js';
import type { Placeholder, PlaceholderName, PlaceholderValues } from './placeholders.js';
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

const ENV_NAMES: Readonly<Record<PlaceholderName, string>> = {
  db: 'JR_DB',
  type: 'JR_TYPE',
  maxtime: 'JR_MAXTIME',
  maxmem: 'JR_MAXMEM',
  maxjobs: 'JR_MAXJOBS',
};

/** The environment variable that carries a placeholder's value in the shell form. */
export function envNameOf(placeholder: Placeholder): string {
  return ENV_NAMES[placeholder.name] + (placeholder.encoding === 'u' ? '_URLENCODED' : '');
}

/**
 * The shell text standing for a placeholder: a quoted variable reference, so the value stays one
 * literal where the template put it (in double quotes `${V}` is already quoted; inside single
 * quotes they are closed and reopened around it). Its expansion is never parsed again.
 */
function shellReference(placeholder: Placeholder, context: QuoteContext): string {
  const reference = `\${${envNameOf(placeholder)}}`;
  if (context === 'double') return reference;
  if (context === 'single') return `'"${reference}"'`;
  return `"${reference}"`;
}

const PLAIN_ARG = /^[A-Za-z0-9_@%+=:,./-]+$/;

/** Quotes an argv element for display only when needed. */
export function displayArg(arg: string): string {
  return PLAIN_ARG.test(arg) ? arg : escapeshellarg(arg);
}

export function buildCommand(parsed: ParsedCommandTemplate, values: PlaceholderValues): CommandSpec {
  if (parsed.shellReason !== null) {
    let line = '';
    const env: Record<string, string> = {};
    for (const piece of parsed.pieces) {
      if ('raw' in piece) {
        line += piece.raw;
        continue;
      }
      env[envNameOf(piece.placeholder)] = argvValue(piece.placeholder, values);
      line += shellReference(piece.placeholder, piece.context);
    }
    const shown = Object.entries(env).map(([name, value]) => `${name}=${displayArg(value)}`);
    const display = [...shown, '/bin/sh', '-c', escapeshellarg(line)].join(' ');
    return { file: '/bin/sh', args: ['-c', line], env, display, viaShell: true };
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
