// The farm served as production serves MediaWiki: Apache httpd (mpm_event + mod_proxy_fcgi) in front
// of a static php-fpm pool. A php-fpm child accepts a connection only while idle, so a request never
// waits behind a running one while another child is free; with every child busy it waits in the
// listen backlog. (`php -S` with PHP_CLI_SERVER_WORKERS lets a busy worker accept, README
// "Scheduling".) Both run from config files in a temp dir of their own, on free loopback ports,
// logging into the farm's log dir, and are stopped by PID.
import { accessSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { answersPostOnly, farmUrls, type FarmWebServer, type WebServerOptions } from './farm-web-server.js';
import {
  APACHE_MODULES,
  HOST,
  apacheModulePath,
  renderApacheConfig,
  renderFpmConfig,
  type FpmWebLayout,
} from './fpm-web-config.js';
import { freePort } from './free-port.js';
import {
  MissingDependencyError,
  childPids,
  requireExecutable,
  trackDir,
  trackPid,
  untrackDir,
  untrackPid,
  waitForExit,
} from './process-tree.js';
import { portInUse, retryOnPortTaken } from './server-fixture.js';
import { spawnServer, stopServer, type SpawnedServer } from './spawn-server.js';

export interface FpmWebServer extends FarmWebServer {
  /** php-fpm's own loopback port (Apache proxies to it). */
  readonly fpmPort: number;
  readonly fpmPid: number;
  /** Config and pid files; removed by stop(). */
  readonly runDir: string;
}

/** A Debian daemon binary: /usr/sbin is often not on a test's PATH. */
function daemonBinary(command: string, pkg: string): string {
  const sbin = join('/usr/sbin', command);
  try {
    accessSync(sbin, constants.X_OK);
    return sbin;
  } catch {
    return requireExecutable(command, `\`${command}\` (Debian package ${pkg})`);
  }
}

function requireApacheModules(): void {
  for (const module of APACHE_MODULES) {
    try {
      accessSync(apacheModulePath(module), constants.R_OK);
    } catch {
      throw new MissingDependencyError(
        `Apache module ${apacheModulePath(module)} (Debian package apache2-bin)`,
      );
    }
  }
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: HOST, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** Kills what is left of a stopped server's children (they normally exit with their parent). */
async function reap(pids: number[]): Promise<void> {
  for (const pid of pids) {
    if (!(await waitForExit(pid, 3000))) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
      await waitForExit(pid, 3000);
    }
    untrackPid(pid);
  }
}

async function startOnce(opts: WebServerOptions, runDir: string): Promise<FpmWebServer> {
  const fpmBinary = daemonBinary('php-fpm8.2', 'php8.2-fpm');
  const apacheBinary = daemonBinary('apache2', 'apache2');
  requireApacheModules();
  const root = process.getuid?.() === 0;
  const layout: FpmWebLayout = {
    docroot: opts.docroot,
    runDir,
    logDir: opts.logDir,
    fpmPort: await freePort(HOST),
    apachePort: await freePort(HOST),
    children: opts.workers ?? 1,
    root,
  };
  const fpmConf = join(runDir, 'php-fpm.conf');
  const apacheConf = join(runDir, 'httpd.conf');
  writeFileSync(fpmConf, renderFpmConfig(layout));
  writeFileSync(apacheConf, renderApacheConfig(layout));

  const fpm = await spawnServer({
    name: `php-fpm on ${HOST}:${layout.fpmPort}`,
    command: fpmBinary,
    // -R: the farm's files belong to root when the tests run as root. opcache as php -S has it
    // (-d, not a pool value: a pool may only turn opcache off).
    args: [
      '--nodaemonize',
      '--fpm-config',
      fpmConf,
      '-d',
      'opcache.enable=1',
      ...(root ? ['--allow-to-run-as-root'] : []),
    ],
    cwd: runDir,
    env: opts.env,
    logFile: join(opts.logDir, `php-fpm-${layout.apachePort}.log`),
    probe: () => listening(layout.fpmPort),
  });
  let apache: SpawnedServer;
  try {
    apache = await spawnServer({
      name: `apache2 on ${HOST}:${layout.apachePort}`,
      command: apacheBinary,
      args: ['-f', apacheConf, '-DFOREGROUND'],
      cwd: runDir,
      logFile: join(opts.logDir, `apache-${layout.apachePort}-error.log`),
      probe: () => answersPostOnly(layout.apachePort),
      timeoutMs: 15_000,
    });
  } catch (error) {
    const children = childPids(fpm.pid);
    await stopServer(fpm);
    await reap(children);
    throw error;
  }
  // The children too, so the exit hook kills them if their parent is SIGKILLed.
  for (const pid of [...childPids(fpm.pid), ...childPids(apache.pid)]) trackPid(pid);

  const baseUrl = `http://${HOST}:${layout.apachePort}`;
  let stopped = false;
  return {
    port: layout.apachePort,
    pid: apache.pid,
    fpmPort: layout.fpmPort,
    fpmPid: fpm.pid,
    runDir,
    baseUrl,
    ...farmUrls(baseUrl),
    async stop() {
      if (stopped) return;
      stopped = true;
      // Apache first, so nothing new reaches php-fpm while it stops.
      const apacheChildren = childPids(apache.pid);
      await stopServer(apache);
      await reap(apacheChildren);
      const fpmChildren = childPids(fpm.pid);
      await stopServer(fpm);
      await reap(fpmChildren);
    },
  };
}

/** Same interface as startFarmWebServer; `workers` is the php-fpm pool's size (default 1). */
export async function startFpmWebServer(opts: WebServerOptions): Promise<FpmWebServer> {
  const children = opts.workers ?? 1;
  if (!Number.isInteger(children) || children < 1)
    throw new Error(`fpm web server: workers must be a whole number ≥ 1, not ${children}`);
  const runDir = mkdtempSync(join(tmpdir(), 'jobrunner-fpm-'));
  trackDir(runDir);
  const removeRunDir = (): void => {
    rmSync(runDir, { recursive: true, force: true });
    untrackDir(runDir);
  };
  let server: FpmWebServer;
  try {
    server = await retryOnPortTaken(() => startOnce(opts, runDir), portInUse, 5);
  } catch (error) {
    removeRunDir();
    throw error;
  }
  const stop = server.stop.bind(server);
  return {
    ...server,
    async stop() {
      await stop();
      removeRunDir();
    },
  };
}
