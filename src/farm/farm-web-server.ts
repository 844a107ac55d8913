// `php -S` serving every wiki of a farm (select one with ?wiki=ID) plus rpc/RunJobs.php.
// With PHP_CLI_SERVER_WORKERS the workers outlive the parent, so the server runs in its own process
// group and stop() signals the whole group.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { childPids, isAlive, signalGroup, sleep, trackPid, untrackPid, waitForExit } from './process-tree.js';

export interface FarmWebServer {
  readonly port: number;
  readonly pid: number;
  /** http://127.0.0.1:PORT */
  readonly baseUrl: string;
  /** http://127.0.0.1:PORT/index.php?wiki=ID (POST title=Special:RunJobs here). */
  indexUrl(wiki: string): string;
  /** WMF-style HTTP dispatcher template with the original jobrunner's placeholders. */
  rpcRunJobsTemplate(): string;
  stop(): Promise<void>;
}

/** The URLs every farm web server answers, whatever serves them. */
export function farmUrls(baseUrl: string): Pick<FarmWebServer, 'indexUrl' | 'rpcRunJobsTemplate'> {
  return {
    indexUrl: (wiki) => `${baseUrl}/index.php?wiki=${encodeURIComponent(wiki)}`,
    rpcRunJobsTemplate: () =>
      `${baseUrl}/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u`,
  };
}

export interface WebServerOptions {
  docroot: string;
  env: NodeJS.ProcessEnv;
  logDir: string;
  /** PHP_CLI_SERVER_WORKERS; default 1 (no workers). */
  workers?: number;
}

const HOST = '127.0.0.1';

/** GET /rpc/RunJobs.php answers "Request must use POST." without loading MediaWiki (a start-up probe). */
export function answersPostOnly(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path: '/rpc/RunJobs.php', timeout: 1000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(res.statusCode === 200 && body.includes('Request must use POST')));
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

async function startOnce(opts: WebServerOptions, port: number): Promise<FarmWebServer | 'port-in-use'> {
  const logFile = join(opts.logDir, `php-server-${port}.log`);
  const log = openSync(logFile, 'a');
  const workers = opts.workers ?? 1;
  const env = { ...opts.env };
  if (workers > 1) env.PHP_CLI_SERVER_WORKERS = String(workers);
  const child = spawn('php', ['-d', 'opcache.enable=1', '-S', `${HOST}:${port}`, '-t', opts.docroot], {
    env,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  child.unref();
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start php -S');
  trackPid(pid);
  let exited = false;
  child.once('exit', () => {
    exited = true;
  });

  const deadline = Date.now() + 15_000;
  while (!(await answersPostOnly(port))) {
    if (exited || !isAlive(pid)) {
      untrackPid(pid);
      const text = readFileSync(logFile, 'utf8');
      if (/Address already in use/i.test(text)) return 'port-in-use';
      throw new Error(`php -S on port ${port} exited during start-up:\n${text.slice(-2000)}`);
    }
    if (Date.now() > deadline) {
      signalGroup(pid, 'SIGKILL');
      untrackPid(pid);
      throw new Error(`php -S on port ${port} did not answer within 15 s (log: ${logFile})`);
    }
    await sleep(20);
  }
  // Workers are forked by the parent; remember them for the exit hook as well.
  const workerPids = childPids(pid);
  for (const w of workerPids) trackPid(w);

  const baseUrl = `http://${HOST}:${port}`;
  let stopped = false;
  return {
    port,
    pid,
    baseUrl,
    ...farmUrls(baseUrl),
    async stop() {
      if (stopped) return;
      stopped = true;
      const all = [pid, ...workerPids, ...childPids(pid)];
      signalGroup(pid, 'SIGTERM');
      for (const p of all) {
        if (!(await waitForExit(p, 3000))) {
          signalGroup(pid, 'SIGKILL');
          await waitForExit(p, 3000);
        }
        untrackPid(p);
      }
    },
  };
}

export async function startFarmWebServer(opts: WebServerOptions): Promise<FarmWebServer> {
  for (let attempt = 1; ; attempt++) {
    const server = await startOnce(opts, await freePort(HOST));
    if (server !== 'port-in-use') return server;
    if (attempt >= 5) throw new Error('php -S: could not find a free port after 5 attempts');
  }
}
