// One rehearsal host: a network namespace cabled to the farm's switch, plus its own mount, PID
// and UTS namespaces whose PID 1 is the service manager stand-in (units/daemon.ts). Its /etc
// (a copy of the machine's), /run, /tmp, /var/log, /srv, /home and unit directory are private
// directories under the host's root, bind-mounted in its mount namespace only; /usr, /opt and
// /var/tmp are the machine's, read as they are.
//
// Killing PID 1 ends every process of the host (the kernel kills the rest of its PID namespace);
// the mounts disappear with the mount namespace.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, type RunOptions, type RunResult } from './run.js';
import { SOCKET_PATH } from './units/protocol.js';

/** Bind mounts of a host: path inside → directory under the host root. */
const PRIVATE_DIRS: readonly (readonly [string, string])[] = [
  ['/etc', 'etc'],
  ['/run', 'run'],
  ['/tmp', 'tmp'],
  ['/var/log', 'var/log'],
  ['/srv', 'srv'],
  ['/home', 'home'],
  ['/usr/lib/systemd/system', 'units'],
];

export interface HostOptions {
  readonly name: string;
  readonly ns: string;
  readonly root: string;
  readonly address: string;
  /** `address name` lines for /etc/hosts. */
  readonly hostsFile: string;
  /** The built stand-in (dist/rehearsal/units). */
  readonly unitsDist: string;
}

export interface ExecOptions extends RunOptions {
  /** Run as this user of the host (runuser). */
  readonly user?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class Host {
  readonly name: string;
  readonly ns: string;
  readonly root: string;
  readonly address: string;
  private anchor: ChildProcess | undefined;
  private pid1 = 0;

  constructor(private readonly opts: HostOptions) {
    this.name = opts.name;
    this.ns = opts.ns;
    this.root = opts.root;
    this.address = opts.address;
  }

  /** A path inside the host as seen from the machine (for the private directories). */
  path(inside: string): string {
    for (const [mount, dir] of PRIVATE_DIRS) {
      if (inside === mount || inside.startsWith(`${mount}/`))
        return join(this.root, dir, inside.slice(mount.length));
    }
    return inside;
  }

  private prepareRoot(): void {
    mkdirSync(this.root, { recursive: true });
    for (const [, dir] of PRIVATE_DIRS) mkdirSync(join(this.root, dir), { recursive: true });
    cpSync('/etc', join(this.root, 'etc'), { recursive: true, verbatimSymlinks: true });
    chmodSync(join(this.root, 'tmp'), 0o1777);
    for (const dir of [
      'run/lock',
      'run/sshd',
      'run/php',
      'run/apache2',
      'run/systemd/system',
      'var/log/apache2',
    ]) {
      mkdirSync(join(this.root, dir), { recursive: true });
    }
    chmodSync(join(this.root, 'run/sshd'), 0o755);
    // As on Debian: /var/lock (-> /run/lock) is world-writable and sticky (scap's global lock).
    chmodSync(join(this.root, 'run/lock'), 0o1777);
    // Debian's /usr/sbin/service calls systemctl only where /run/systemd/system exists (above).
    writeFileSync(join(this.root, 'etc/hostname'), `${this.name}\n`);
    writeFileSync(join(this.root, 'etc/hosts'), `127.0.0.1 localhost\n${this.opts.hostsFile}`);
    // Only the units this host's roles install are there: no Debian defaults are enabled.
    rmSync(join(this.root, 'etc/systemd/system'), { recursive: true, force: true });
    mkdirSync(join(this.root, 'etc/systemd/system'), { recursive: true });
    const systemctl = join(this.root, 'systemctl');
    writeFileSync(
      systemctl,
      `#!/bin/sh\nexec ${process.execPath} ${join(this.opts.unitsDist, 'systemctl.js')} "$@"\n`,
      { mode: 0o755 },
    );
  }

  /** Creates the host's directories and namespaces and starts its PID 1. */
  async boot(): Promise<void> {
    this.prepareRoot();
    const mounts = PRIVATE_DIRS.map(([inside, dir]) => `mount --bind ${join(this.root, dir)} ${inside}`);
    const script = [
      'set -e',
      ...mounts,
      `mount --bind ${join(this.root, 'systemctl')} /usr/bin/systemctl`,
      `hostname ${this.name}`,
      `exec ${process.execPath} ${join(this.opts.unitsDist, 'daemon.js')}`,
    ].join('\n');
    const child = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns,
        'unshare',
        '--mount',
        '--uts',
        '--pid',
        '--fork',
        '--mount-proc',
        '--propagation',
        'private',
        '--',
        '/bin/sh',
        '-c',
        script,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
    );
    this.anchor = child;
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    const socket = join(this.root, 'run', SOCKET_PATH.slice('/run/'.length));
    const deadline = Date.now() + 20_000;
    while (!existsSync(socket)) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(
          `host ${this.name} did not boot (${child.exitCode === null ? 'timeout' : `exit ${child.exitCode}`}): ${stderr}`,
        );
      }
      await sleep(50);
    }
    this.pid1 = this.findPid1(child.pid ?? 0);
  }

  /** The PID (in the machine's namespace) of the host's PID 1: unshare's forked child. */
  private findPid1(unsharePid: number): number {
    const children = readFileSync(`/proc/${unsharePid}/task/${unsharePid}/children`, 'utf8')
      .trim()
      .split(/\s+/);
    const pid = Number(children[0]);
    if (!Number.isInteger(pid) || pid <= 0)
      throw new Error(`host ${this.name}: no PID 1 under ${unsharePid}`);
    return pid;
  }

  /** argv prefixed to enter the host (as root, or as `user`). */
  enter(argv: readonly string[], user?: string): string[] {
    const base = ['nsenter', `--target=${this.pid1}`, '--mount', '--net', '--pid', '--uts', '--wd=/', '--'];
    return user === undefined ? [...base, ...argv] : [...base, 'runuser', '-u', user, '--', ...argv];
  }

  exec(argv: readonly string[], opts: ExecOptions = {}): Promise<RunResult> {
    const env = {
      PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      LANG: 'C.UTF-8',
      HOME: '/root',
      ...opts.env,
    };
    return run(this.enter(argv, opts.user), { ...opts, env });
  }

  systemctl(...args: string[]): Promise<RunResult> {
    return this.exec(['systemctl', ...args]);
  }

  /** Writes a unit file into the host's unit directory (/usr/lib/systemd/system). */
  installUnit(name: string, text: string): void {
    writeFileSync(join(this.root, 'units', name), text);
  }

  /** Ends every process of the host (PID 1 first, which takes its PID namespace with it). */
  kill(): void {
    for (const pid of [this.pid1, this.anchor?.pid ?? 0]) {
      if (pid > 0) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
    }
    this.pid1 = 0;
  }
}
