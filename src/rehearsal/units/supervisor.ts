// The rehearsal hosts' service manager stand-in: starts, stops, reloads and restarts the units
// found where systemd would look (/etc/systemd/system, then /usr/lib/systemd/system), honouring
// ExecStart, ExecReload ($MAINPID), KillMode, KillSignal, TimeoutStopSec, Restart, RestartSec,
// User/Group, WorkingDirectory, Environment and ConditionPathExists. Enabling and masking are the
// same symlinks systemd uses, so Puppet and scap see the states they expect.
//
// Not systemd: Type=notify is treated as started once the process runs (no NOTIFY_SOCKET), there
// are no cgroups (a unit's processes are its main process's process group) and no journal (output
// goes to /var/log/jr-units/<unit>.log). Stops and starts are recorded, one JSON line each, in
// /var/log/jr-units/manager.log (what `journalctl -u` would show as Stopping/Stopped/Started).
import { spawn, type ChildProcess } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  lstatSync,
  mkdirSync,
  openSync,
  closeSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
} from 'node:fs';
import { join } from 'node:path';
import { groupId, userIds } from './accounts.js';
import { parseUnitFile, type ServiceUnit } from './unit-file.js';

export const ETC_DIR = '/etc/systemd/system';
export const LIB_DIR = '/usr/lib/systemd/system';
const WANTS_DIR = join(ETC_DIR, 'multi-user.target.wants');
const LOG_DIR = '/var/log/jr-units';
export const MANAGER_LOG = join(LOG_DIR, 'manager.log');

/** One line of manager.log. */
export interface ManagerEvent {
  readonly at: number;
  readonly unit: string;
  readonly event: 'started' | 'stopped';
  readonly pid: number;
  /** stopped: from the stop signal to the main process's exit. */
  readonly stopMs?: number;
  /** stopped: the process outlived TimeoutStopSec and was killed. */
  readonly killed?: boolean;
}

function record(event: Omit<ManagerEvent, 'at'>): void {
  mkdirSync(LOG_DIR, { recursive: true });
  appendFileSync(MANAGER_LOG, `${JSON.stringify({ at: Date.now(), ...event })}\n`);
}

export type ActiveState = 'inactive' | 'activating' | 'active' | 'deactivating' | 'failed';

interface Running {
  unit: ServiceUnit;
  loadedMtimeMs: number;
  state: ActiveState;
  child: ChildProcess | undefined;
  stopping: boolean;
  restartTimer: NodeJS.Timeout | undefined;
  exited: Promise<void> | undefined;
}

export class UnitError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'UnitError';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function unitName(name: string): string {
  return /\.(service|socket|target|timer|mount|path)$/.test(name) ? name : `${name}.service`;
}

export class Supervisor {
  private readonly units = new Map<string, Running>();

  /** Path of a unit's file, or undefined (masked units have none). */
  unitPath(name: string): string | undefined {
    for (const dir of [ETC_DIR, LIB_DIR]) {
      const path = join(dir, name);
      if (existsSync(path) && !this.isMaskLink(path)) return path;
    }
    return undefined;
  }

  private isMaskLink(path: string): boolean {
    try {
      return lstatSync(path).isSymbolicLink() && readlinkSync(path) === '/dev/null';
    } catch {
      return false;
    }
  }

  enablement(name: string): 'enabled' | 'disabled' | 'masked' | 'not-found' {
    if (this.isMaskLink(join(ETC_DIR, name))) return 'masked';
    if (this.unitPath(name) === undefined) return 'not-found';
    return existsSync(join(WANTS_DIR, name)) ? 'enabled' : 'disabled';
  }

  enable(name: string): void {
    const path = this.requirePath(name);
    mkdirSync(WANTS_DIR, { recursive: true });
    rmSync(join(WANTS_DIR, name), { force: true });
    symlinkSync(path, join(WANTS_DIR, name));
  }

  disable(name: string): void {
    rmSync(join(WANTS_DIR, name), { force: true });
  }

  mask(name: string): void {
    mkdirSync(ETC_DIR, { recursive: true });
    rmSync(join(ETC_DIR, name), { force: true });
    symlinkSync('/dev/null', join(ETC_DIR, name));
  }

  unmask(name: string): void {
    if (this.isMaskLink(join(ETC_DIR, name))) rmSync(join(ETC_DIR, name));
  }

  private requirePath(name: string): string {
    const path = this.unitPath(name);
    if (path !== undefined) return path;
    if (this.enablement(name) === 'masked') throw new UnitError(`Unit ${name} is masked.`, 1);
    throw new UnitError(`Unit ${name} not found.`, 5);
  }

  private load(name: string): Running {
    const path = this.requirePath(name);
    const current = this.units.get(name);
    const mtime = statSync(path).mtimeMs;
    if (current && current.loadedMtimeMs === mtime) return current;
    const unit = parseUnitFile(name, readFileSync(path, 'utf8'));
    if (current) {
      // daemon-reload semantics: the new definition applies from the next start.
      current.unit = unit;
      current.loadedMtimeMs = mtime;
      return current;
    }
    const running: Running = {
      unit,
      loadedMtimeMs: mtime,
      state: 'inactive',
      child: undefined,
      stopping: false,
      restartTimer: undefined,
      exited: undefined,
    };
    this.units.set(name, running);
    return running;
  }

  needsDaemonReload(name: string): boolean {
    const path = this.unitPath(name);
    const current = this.units.get(name);
    return path !== undefined && current !== undefined && statSync(path).mtimeMs !== current.loadedMtimeMs;
  }

  daemonReload(): void {
    for (const name of this.units.keys()) if (this.unitPath(name) !== undefined) this.load(name);
  }

  state(name: string): ActiveState {
    return this.units.get(name)?.state ?? 'inactive';
  }

  mainPid(name: string): number {
    return this.units.get(name)?.child?.pid ?? 0;
  }

  unitText(name: string): string {
    return readFileSync(this.requirePath(name), 'utf8');
  }

  async start(name: string): Promise<void> {
    if (this.enablement(name) === 'masked')
      throw new UnitError(`Failed to start ${name}: Unit ${name} is masked.`, 1);
    const running = this.load(name);
    if (running.state === 'active' || running.state === 'activating') return;
    const missing = running.unit.conditionPathExists.find((p) => !existsSync(p.replace(/^!/, '')));
    // A failed condition skips the start without an error, as in systemd.
    if (missing !== undefined) return;
    this.spawnMain(running);
    await sleep(300);
    if ((running.state as ActiveState) !== 'active')
      throw new UnitError(
        `Job for ${name} failed: the process exited at once (see ${LOG_DIR}/${name}.log)`,
        1,
      );
  }

  private spawnMain(running: Running): void {
    const { unit } = running;
    mkdirSync(LOG_DIR, { recursive: true });
    const log = openSync(join(LOG_DIR, `${unit.name}.log`), 'a');
    // `!`/`+` ExecStart: started as root, User= and Group= do not apply (the daemon switches).
    const asUser = unit.execStartPrivileged ? undefined : unit.user;
    const user = asUser !== undefined ? userIds(asUser) : undefined;
    const gid = asUser === undefined ? undefined : unit.group !== undefined ? groupId(unit.group) : user?.gid;
    const [command, ...args] = unit.execStart;
    const child = spawn(command ?? '/bin/false', args, {
      cwd: unit.workingDirectory ?? '/',
      env: {
        PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
        LANG: 'C.UTF-8',
        ...(user ? { HOME: user.home, USER: asUser, LOGNAME: asUser } : { HOME: '/root' }),
        INVOCATION_ID: `${Date.now()}`,
        ...unit.environment,
      },
      ...(user !== undefined ? { uid: user.uid } : {}),
      ...(gid !== undefined ? { gid } : {}),
      detached: true,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    running.child = child;
    running.state = 'active';
    running.stopping = false;
    record({ unit: unit.name, event: 'started', pid: child.pid ?? 0 });
    running.exited = new Promise((resolve) => {
      child.once('error', () => resolve());
      child.once('exit', (code, signal) => {
        this.onExit(running, child, code, signal);
        resolve();
      });
    });
  }

  private onExit(
    running: Running,
    child: ChildProcess,
    code: number | null,
    signal: NodeJS.Signals | null,
  ): void {
    if (running.child !== child) return;
    running.child = undefined;
    // Whatever the main process left behind in its group goes too (KillMode=mixed/control-group).
    if (child.pid !== undefined && running.unit.killMode !== 'process' && running.unit.killMode !== 'none') {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is already gone.
      }
    }
    if (running.stopping) {
      running.state = 'inactive';
      return;
    }
    const failed = code !== 0 || signal !== null;
    running.state = failed ? 'failed' : 'inactive';
    const again = running.unit.restart === 'always' || (running.unit.restart === 'on-failure' && failed);
    if (again) {
      running.state = 'activating';
      running.restartTimer = setTimeout(() => {
        running.restartTimer = undefined;
        if (running.state === 'activating') this.spawnMain(running);
      }, running.unit.restartSeconds * 1000);
    }
  }

  async stop(name: string): Promise<void> {
    const running = this.units.get(name);
    if (!running) return;
    if (running.restartTimer) clearTimeout(running.restartTimer);
    running.restartTimer = undefined;
    const child = running.child;
    if (!child || child.pid === undefined) {
      running.state = 'inactive';
      return;
    }
    running.stopping = true;
    running.state = 'deactivating';
    const pid = child.pid;
    const target = running.unit.killMode === 'control-group' ? -pid : pid;
    try {
      process.kill(target, running.unit.killSignal);
    } catch {
      // Already gone.
    }
    const signalled = Date.now();
    const deadline = signalled + running.unit.timeoutStopSeconds * 1000;
    while (alive(pid) && running.child === child && Date.now() < deadline) await sleep(50);
    const killed = running.child === child && alive(pid);
    if (running.child === child) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
      await running.exited;
    }
    running.state = 'inactive';
    record({ unit: running.unit.name, event: 'stopped', pid, stopMs: Date.now() - signalled, killed });
  }

  async restart(name: string): Promise<void> {
    await this.stop(name);
    await this.start(name);
  }

  async tryRestart(name: string): Promise<void> {
    if (this.state(name) === 'active') await this.restart(name);
  }

  async reload(name: string): Promise<void> {
    const running = this.load(name);
    const pid = running.child?.pid;
    if (running.state !== 'active' || pid === undefined)
      throw new UnitError(`${name} is not active, cannot reload.`, 1);
    const words = running.unit.execReload;
    if (words === undefined)
      throw new UnitError(`Failed to reload ${name}: Job type reload is not applicable for unit ${name}.`, 1);
    const [command, ...args] = words.map((w) => w.replace(/\$\{?MAINPID\}?/g, String(pid)));
    await new Promise<void>((resolve, reject) => {
      const child = spawn(command ?? '/bin/false', args, { stdio: 'ignore' });
      child.once('error', reject);
      child.once('exit', (code) =>
        code === 0 ? resolve() : reject(new UnitError(`ExecReload of ${name} exited ${code}`, 1)),
      );
    });
  }

  /** Boot: starts every enabled unit (multi-user.target.wants). */
  async boot(): Promise<void> {
    if (!existsSync(WANTS_DIR)) return;
    for (const name of readdirSync(WANTS_DIR)) await this.start(name).catch(() => undefined);
  }

  /** Stops every unit (poweroff). */
  async shutdown(): Promise<void> {
    await Promise.all([...this.units.keys()].map((name) => this.stop(name)));
  }

  listUnitFiles(): string[] {
    const names = new Set<string>();
    for (const dir of [LIB_DIR, ETC_DIR]) if (existsSync(dir)) for (const n of readdirSync(dir)) names.add(n);
    return [...names].filter((n) => n.endsWith('.service')).sort();
  }
}
