// A private Prometheus (Debian package `prometheus`) for the alerting-rules test: free loopback
// port, its own config and TSDB in a temp dir, stopped by PID. Scrapes and evaluates every second.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { requireExecutable, terminate, untrackDir, untrackPid } from './process-tree.js';
import { portInUse, retryOnPortTaken, withDataDir } from './server-fixture.js';
import { spawnServer } from './spawn-server.js';

export interface PrometheusOptions {
  /** Scrape jobs: job name → "host:port" targets (each serving /metrics). */
  readonly targets: Readonly<Record<string, readonly string[]>>;
  /** Rule files to load (absolute paths). */
  readonly ruleFiles: readonly string[];
}

export interface PrometheusHandle {
  /** "http://127.0.0.1:PORT" */
  readonly url: string;
  readonly pid: number;
  readonly dir: string;
  stop(): Promise<void>;
}

const HOST = '127.0.0.1';

/** prometheus.yml; JSON is valid YAML, so no YAML library is needed. */
function configText(options: PrometheusOptions): string {
  return JSON.stringify({
    global: { scrape_interval: '1s', scrape_timeout: '900ms', evaluation_interval: '1s' },
    rule_files: options.ruleFiles,
    scrape_configs: Object.entries(options.targets).map(([job, targets]) => ({
      job_name: job,
      static_configs: [{ targets }],
    })),
  });
}

export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusHandle> {
  const binary = requireExecutable('prometheus', 'prometheus (Debian package prometheus)');
  return withDataDir(undefined, 'jr15-prometheus-', (dir) =>
    retryOnPortTaken(
      async () => {
        const port = await freePort(HOST);
        const configFile = join(dir, 'prometheus.yml');
        writeFileSync(configFile, configText(options));
        const url = `http://${HOST}:${port}`;
        const server = await spawnServer({
          name: `prometheus on ${HOST}:${port}`,
          command: binary,
          args: [
            `--config.file=${configFile}`,
            `--storage.tsdb.path=${join(dir, 'data')}`,
            `--web.listen-address=${HOST}:${port}`,
            '--log.level=warn',
          ],
          cwd: dir,
          probe: async () => (await fetch(`${url}/-/ready`)).ok,
          timeoutMs: 60_000,
        });
        let stopped = false;
        return {
          url,
          pid: server.pid,
          dir,
          async stop() {
            if (stopped) return;
            stopped = true;
            await terminate(server.pid, 5000);
            untrackPid(server.pid);
            rmSync(dir, { recursive: true, force: true });
            untrackDir(dir);
          },
        };
      },
      portInUse,
      5,
    ),
  );
}
