// A systemd .service file as the rehearsal's service manager stand-in needs it: the [Unit]
// condition and the [Service] lines it honours. Quoting follows systemd.syntax(7) for Exec lines:
// words split on whitespace, "..." and '...' group, backslash escapes, `%%` is `%`, `$$` is `$`.

export interface ServiceUnit {
  readonly name: string;
  readonly type: string;
  readonly execStart: readonly string[];
  /** ExecStart= had a `+` or `!` prefix: User=/Group= do not apply to it (it starts as root). */
  readonly execStartPrivileged: boolean;
  readonly execReload: readonly string[] | undefined;
  readonly user: string | undefined;
  readonly group: string | undefined;
  readonly workingDirectory: string | undefined;
  readonly environment: Readonly<Record<string, string>>;
  readonly killMode: 'control-group' | 'mixed' | 'process' | 'none';
  readonly killSignal: NodeJS.Signals;
  readonly timeoutStopSeconds: number;
  readonly restart: 'no' | 'always' | 'on-failure';
  readonly restartSeconds: number;
  readonly conditionPathExists: readonly string[];
}

export class UnitFileError extends Error {
  constructor(unit: string, message: string) {
    super(`${unit}: ${message}`);
    this.name = 'UnitFileError';
  }
}

/** Splits an Exec line into words (systemd.syntax(7) quoting). */
export function splitExecWords(line: string, unit = 'unit'): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] ?? '';
    if (quote !== undefined) {
      if (c === quote) quote = undefined;
      else if (c === '\\' && i + 1 < line.length) word += line[++i];
      else word += c;
      continue;
    }
    if (/\s/.test(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
    } else if (c === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else {
      word += c;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new UnitFileError(unit, `unterminated quote in: ${line}`);
  if (inWord) words.push(word);
  return words.map((w) => w.replace(/%%/g, '%'));
}

/** A systemd time span in seconds ("90", "5s", "2min", "1min 30s"). */
export function parseTimespan(text: string, unit = 'unit'): number {
  const units: Record<string, number> = { '': 1, s: 1, sec: 1, ms: 0.001, m: 60, min: 60, h: 3600 };
  let total = 0;
  const parts = text.trim().split(/\s+/);
  for (const part of parts) {
    const match = /^(\d+(?:\.\d+)?)([a-z]*)$/.exec(part);
    const factor = match ? units[match[2] ?? ''] : undefined;
    if (!match || factor === undefined) throw new UnitFileError(unit, `bad time span: ${text}`);
    total += Number(match[1]) * factor;
  }
  return total;
}

const SIGNALS: readonly string[] = [
  'SIGTERM',
  'SIGINT',
  'SIGHUP',
  'SIGQUIT',
  'SIGKILL',
  'SIGUSR1',
  'SIGUSR2',
  'SIGWINCH',
];

export function parseUnitFile(name: string, text: string): ServiceUnit {
  const values = new Map<string, string[]>();
  let section = '';
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = pending + raw.trim();
    pending = '';
    if (line.endsWith('\\')) {
      pending = `${line.slice(0, -1)} `;
      continue;
    }
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      section = header[1] ?? '';
      continue;
    }
    const eq = line.indexOf('=');
    if (eq < 0) throw new UnitFileError(name, `not key=value: ${line}`);
    const key = `${section}.${line.slice(0, eq).trim()}`;
    const list = values.get(key) ?? [];
    list.push(line.slice(eq + 1).trim());
    values.set(key, list);
  }
  const last = (key: string): string | undefined => values.get(key)?.at(-1);
  // Prefixes: `-` (failure ignored), `@` (argv0), `:` (no variable expansion), `+` and `!`
  // (started as root; the project's units use `!`: the daemon drops to User= itself).
  const prefixOf = (line: string): string => /^[-@:+!]*/.exec(line)?.[0] ?? '';
  const exec = (key: string): string[] | undefined => {
    const line = last(key);
    if (line === undefined || line === '') return undefined;
    const prefix = prefixOf(line);
    if (prefix.includes('@')) throw new UnitFileError(name, `${key.slice(8)}= with '@' is not supported`);
    // `$$` is a literal `$`; a single `$NAME` is left for the caller ($MAINPID in ExecReload).
    return splitExecWords(line.slice(prefix.length), name).map((w) => w.split('$$').join('$'));
  };
  const execStart = exec('Service.ExecStart');
  if (execStart === undefined) throw new UnitFileError(name, 'no ExecStart=');
  const environment: Record<string, string> = {};
  for (const line of values.get('Service.Environment') ?? []) {
    for (const word of splitExecWords(line, name)) {
      const eq = word.indexOf('=');
      if (eq > 0) environment[word.slice(0, eq)] = word.slice(eq + 1);
    }
  }
  const killMode = last('Service.KillMode') ?? 'control-group';
  if (!['control-group', 'mixed', 'process', 'none'].includes(killMode))
    throw new UnitFileError(name, `KillMode=${killMode} is not supported`);
  const killSignal = last('Service.KillSignal') ?? 'SIGTERM';
  const signal = killSignal.startsWith('SIG') ? killSignal : `SIG${killSignal}`;
  if (!SIGNALS.includes(signal)) throw new UnitFileError(name, `KillSignal=${killSignal} is not supported`);
  const restart = last('Service.Restart') ?? 'no';
  if (!['no', 'always', 'on-failure'].includes(restart))
    throw new UnitFileError(name, `Restart=${restart} is not supported`);
  return {
    name,
    type: last('Service.Type') ?? 'simple',
    execStart,
    execStartPrivileged: /[+!]/.test(prefixOf(last('Service.ExecStart') ?? '')),
    execReload: exec('Service.ExecReload'),
    user: last('Service.User'),
    group: last('Service.Group'),
    workingDirectory: last('Service.WorkingDirectory'),
    environment,
    killMode: killMode as ServiceUnit['killMode'],
    killSignal: signal as NodeJS.Signals,
    timeoutStopSeconds: parseTimespan(last('Service.TimeoutStopSec') ?? '90', name),
    restart: restart as ServiceUnit['restart'],
    restartSeconds: parseTimespan(last('Service.RestartSec') ?? '0.1', name),
    conditionPathExists: values.get('Unit.ConditionPathExists') ?? [],
  };
}
