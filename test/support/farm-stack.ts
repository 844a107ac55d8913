// The usual integration set-up: a private redis-server, a MediaWiki 1.39 farm whose job queue is on
// it, and a client to look at the queues; torn down in reverse order.
import { Redis } from 'ioredis';
import {
  buildFarm,
  type BuildFarmOptions,
  type ExtraJobBehaviour,
  type MediaWikiFarm,
} from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';

export interface FarmStack {
  readonly redis: RedisServerHandle;
  readonly farm: MediaWikiFarm;
  readonly client: Redis;
}

/** Stops whatever of a stack was started (a failed set-up leaves parts undefined). */
export async function stopFarmStack(stack: Partial<FarmStack>): Promise<void> {
  stack.client?.disconnect();
  await stack.farm?.destroy();
  await stack.redis?.stop();
}

export async function startFarmStack(
  options: Omit<BuildFarmOptions, 'redis'> = {},
  jobTypes: Record<string, ExtraJobBehaviour> = {},
): Promise<FarmStack> {
  const redis = await startRedisServer();
  let farm: MediaWikiFarm | undefined;
  let client: Redis | undefined;
  try {
    farm = await buildFarm({ ...options, redis });
    if (Object.keys(jobTypes).length > 0) await farm.setExtraJobTypes(jobTypes);
    client = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await client.connect();
    return { redis, farm, client };
  } catch (error) {
    await stopFarmStack({ redis, farm, client });
    throw error;
  }
}
