// systemctl's command line, as far as Puppet's systemd provider, the module's Execs, Debian's
// /usr/sbin/service, scap and the deploy scripts use it, run against the stand-in supervisor.
import type { Reply } from './protocol.js';
import { type Supervisor, UnitError, unitName } from './supervisor.js';

const ok = (stdout = ''): Reply => ({ code: 0, stdout, stderr: '' });

/** Options that take a value in the next word. */
const WITH_VALUE = new Set(['-p', '--property', '-t', '--type', '-s', '--signal', '--root', '--state', '-n']);

const READ_ONLY = new Set([
  'is-active',
  'is-enabled',
  'is-system-running',
  'cat',
  'show',
  'list-unit-files',
  'status',
  'list-units',
]);

export async function runSystemctl(
  supervisor: Supervisor,
  argv: readonly string[],
  root: boolean,
): Promise<Reply> {
  const words: string[] = [];
  const properties: string[] = [];
  let quiet = false;
  let valueOnly = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') continue;
    if (arg.startsWith('-')) {
      const [flag, inline] = arg.includes('=')
        ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
        : [arg, undefined];
      const value = inline ?? (WITH_VALUE.has(flag) ? argv[++i] : undefined);
      if (flag === '-q' || flag === '--quiet') quiet = true;
      if (flag === '--value') valueOnly = true;
      if ((flag === '-p' || flag === '--property') && value !== undefined)
        properties.push(...value.split(','));
      continue;
    }
    words.push(arg);
  }
  const [verb = 'list-units', ...rest] = words;
  const units = rest.map(unitName);
  if (!root && !READ_ONLY.has(verb)) {
    return { code: 4, stdout: '', stderr: `Failed to ${verb} ${rest.join(' ')}: Access denied\n` };
  }
  try {
    switch (verb) {
      case 'start':
        for (const u of units) await supervisor.start(u);
        return ok();
      case 'stop':
        for (const u of units) await supervisor.stop(u);
        return ok();
      case 'restart':
        for (const u of units) await supervisor.restart(u);
        return ok();
      case 'try-restart':
        for (const u of units) await supervisor.tryRestart(u);
        return ok();
      case 'reload':
        for (const u of units) await supervisor.reload(u);
        return ok();
      case 'enable':
        for (const u of units) supervisor.enable(u);
        return ok();
      case 'disable':
        for (const u of units) supervisor.disable(u);
        return ok();
      case 'mask':
        for (const u of units) supervisor.mask(u);
        return ok();
      case 'unmask':
        for (const u of units) supervisor.unmask(u);
        return ok();
      case 'daemon-reload':
        supervisor.daemonReload();
        return ok();
      case 'is-active': {
        const states = units.map((u) => supervisor.state(u));
        return {
          code: states.every((s) => s === 'active') ? 0 : 3,
          stdout: quiet ? '' : states.map((s) => `${s}\n`).join(''),
          stderr: '',
        };
      }
      case 'is-enabled': {
        const states = units.map((u) => supervisor.enablement(u));
        const code = states.every((s) => s === 'enabled') ? 0 : states.includes('not-found') ? 4 : 1;
        return { code, stdout: quiet ? '' : states.map((s) => `${s}\n`).join(''), stderr: '' };
      }
      case 'is-system-running':
        return { code: 0, stdout: quiet ? '' : 'running\n', stderr: '' };
      case 'cat':
        return ok(units.map((u) => supervisor.unitText(u)).join('\n'));
      case 'show': {
        const u = units[0] ?? '';
        const all: Record<string, string> = {
          Id: u,
          ActiveState: supervisor.state(u),
          MainPID: String(supervisor.mainPid(u)),
          UnitFileState: supervisor.enablement(u),
          LoadState:
            supervisor.enablement(u) === 'masked'
              ? 'masked'
              : supervisor.unitPath(u)
                ? 'loaded'
                : 'not-found',
          NeedDaemonReload: supervisor.needsDaemonReload(u) ? 'yes' : 'no',
          CanReload: supervisor.unitPath(u) && /^ExecReload=/m.test(supervisor.unitText(u)) ? 'yes' : 'no',
          Triggers: '',
        };
        const keys = properties.length > 0 ? properties : Object.keys(all);
        return ok(keys.map((k) => (valueOnly ? `${all[k] ?? ''}\n` : `${k}=${all[k] ?? ''}\n`)).join(''));
      }
      case 'list-unit-files':
        return ok(
          supervisor
            .listUnitFiles()
            .map((u) => `${u} ${supervisor.enablement(u)}\n`)
            .join(''),
        );
      case 'status':
        return {
          code: supervisor.state(units[0] ?? '') === 'active' ? 0 : 3,
          stdout: units
            .map((u) => `${u} - ${supervisor.state(u)} (MainPID ${supervisor.mainPid(u)})\n`)
            .join(''),
          stderr: '',
        };
      case 'kill':
        return ok();
      default:
        return { code: 1, stdout: '', stderr: `systemctl stand-in: unsupported command ${verb}\n` };
    }
  } catch (error) {
    const code = error instanceof UnitError ? error.exitCode : 1;
    return { code, stdout: '', stderr: `${error instanceof Error ? error.message : String(error)}\n` };
  }
}
