// The benchmark's test bed: a private redis-server, a MediaWiki farm of N wikis, optionally a web
// server for the HTTP dispatcher, and a Redis connection for pushing and measuring.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import {
  buildFarm,
  type ExtraJobBehaviour,
  type FarmWebServer,
  type MediaWikiFarm,
  type WebServerKind,
} from '../../farm/mediawiki-farm.js';
import { trackDir, untrackDir } from '../../farm/process-tree.js';
import { startRedisServer, type RedisServerHandle } from '../../farm/redis-server.js';
import { RedisQueueStore } from '../../redis/queue-store.js';
import { killStragglers, processesWithEnv } from './stragglers.js';

export type DispatchKind = 'command' | 'http';

export interface BenchFarmOptions {
  readonly wikis: number;
  /** Web server workers (php-fpm children or php -S workers) for the HTTP dispatcher; 0 = none. */
  readonly webWorkers: number;
  /** 'fpm': Apache + php-fpm (src/farm/fpm-web-server.ts); 'php' (default): php -S with workers. */
  readonly webServer?: WebServerKind;
  readonly extraTypes?: Readonly<Record<string, ExtraJobBehaviour>>;
}

export class BenchFarm {
  private constructor(
    readonly redis: RedisServerHandle,
    readonly farm: MediaWikiFarm,
    readonly web: FarmWebServer | null,
    readonly client: Redis,
    readonly store: RedisQueueStore,
    /** Temp dir for configs and daemon logs. */
    readonly dir: string,
  ) {}

  static async start(options: BenchFarmOptions): Promise<BenchFarm> {
    const redis = await startRedisServer();
    const undo: (() => Promise<void>)[] = [() => redis.stop()];
    try {
      const farm = await buildFarm({ redis, wikis: options.wikis });
      undo.unshift(() => farm.destroy());
      if (options.extraTypes) await farm.setExtraJobTypes(options.extraTypes);
      const web =
        options.webWorkers > 0
          ? await farm.startWebServer({ workers: options.webWorkers, server: options.webServer ?? 'php' })
          : null;
      const client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
      await client.connect();
      const dir = mkdtempSync(join(tmpdir(), 'jobrunner-bench-'));
      trackDir(dir);
      return new BenchFarm(redis, farm, web, client, new RedisQueueStore(client), dir);
    } catch (error) {
      for (const step of undo) await step().catch(() => undefined);
      throw error;
    }
  }

  get wikis(): readonly string[] {
    return this.farm.wikis;
  }

  dispatcher(kind: DispatchKind): string {
    if (kind === 'command') return this.farm.runJobsCommand();
    if (!this.web) throw new Error('this bench farm has no web server for the HTTP dispatcher');
    return this.web.rpcRunJobsTemplate();
  }

  /** Empties Redis between scenarios (daemons must be stopped). */
  async flush(): Promise<void> {
    await this.client.flushall();
  }

  /** Stops everything; returns PIDs that were still running with this farm's settings (killed). */
  async close(): Promise<number[]> {
    this.client.disconnect();
    await this.farm.destroy();
    await this.redis.stop();
    rmSync(this.dir, { recursive: true, force: true });
    untrackDir(this.dir);
    return killStragglers(processesWithEnv('MW_CONFIG_FILE', this.farm.settingsFile));
  }
}
