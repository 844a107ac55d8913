// Reads and writes the legacy registry on the configured memcached servers. Writes go to every
// server (each may be read by a different runner); reads use the first server that answers, like the
// Redis runner's aggregator list. Writes take MediaWiki's "<key>:lock" (BagOStuff add, 60 s) so a
// ≤1.32 MediaWiki delisting a queue at the same moment never interleaves with a rebuild.
import type { MemcachedConfig } from '../config/types.js';
import { MemcachedClient, MemcachedError } from './memcached-client.js';
import {
  decodeRegistry,
  encodeRegistry,
  FLAG_SERIALIZED,
  RegistryFormatError,
  type LegacyRegistry,
} from './registry-format.js';

const LOCK_TTL_SECONDS = 60;
const LOCK_ATTEMPTS = 5;
const LOCK_RETRY_MS = 20;

export interface RegistryRead {
  /** Null when no server holds the key. */
  readonly registry: LegacyRegistry | null;
  /** The server that answered. */
  readonly server: string;
  /** Servers that failed before it, with the reason. */
  readonly errors: { server: string; error: string }[];
}

export interface RegistryWrite {
  readonly written: string[];
  readonly errors: { server: string; error: string }[];
}

export class RegistryUnavailableError extends Error {
  constructor(readonly errors: { server: string; error: string }[]) {
    super(`no memcached server answered: ${errors.map((e) => `${e.server}: ${e.error}`).join('; ')}`);
    this.name = 'RegistryUnavailableError';
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export class RegistryStore {
  readonly key: string;
  private readonly clients: MemcachedClient[];

  constructor(
    config: Pick<MemcachedConfig, 'servers' | 'registryKey' | 'connectTimeoutMs' | 'commandTimeoutMs'>,
  ) {
    this.key = config.registryKey;
    this.clients = config.servers.map(
      (s) =>
        new MemcachedClient(s.host, s.port, {
          connectTimeoutMs: config.connectTimeoutMs,
          commandTimeoutMs: config.commandTimeoutMs,
        }),
    );
  }

  get servers(): string[] {
    return this.clients.map((c) => c.server);
  }

  /** @throws RegistryUnavailableError when no server answers; RegistryFormatError for a bad value */
  async read(): Promise<RegistryRead> {
    const errors: { server: string; error: string }[] = [];
    for (const client of this.clients) {
      let item;
      try {
        item = await client.get(this.key);
      } catch (error) {
        errors.push({ server: client.server, error: message(error) });
        continue;
      }
      if (item === null) return { registry: null, server: client.server, errors };
      try {
        return { registry: decodeRegistry(item.value, item.flags), server: client.server, errors };
      } catch (error) {
        if (error instanceof RegistryFormatError) {
          throw new RegistryFormatError(`${this.key} on ${client.server}: ${error.message}`);
        }
        throw error;
      }
    }
    throw new RegistryUnavailableError(errors);
  }

  /** Writes to every server; a server that fails (or whose lock stays taken) is reported, not thrown. */
  async write(registry: LegacyRegistry): Promise<RegistryWrite> {
    const bytes = encodeRegistry(registry);
    const results = await Promise.allSettled(this.clients.map((client) => this.writeOne(client, bytes)));
    const written: string[] = [];
    const errors: { server: string; error: string }[] = [];
    results.forEach((result, i) => {
      const server = this.clients[i]?.server ?? '?';
      if (result.status === 'fulfilled') written.push(server);
      else errors.push({ server, error: message(result.reason) });
    });
    return { written, errors };
  }

  /** Checks every server answers (preflight). */
  async ping(): Promise<{ server: string; error: string | null }[]> {
    return Promise.all(
      this.clients.map(async (client) => {
        try {
          await client.version();
          return { server: client.server, error: null };
        } catch (error) {
          return { server: client.server, error: message(error) };
        }
      }),
    );
  }

  close(): void {
    for (const client of this.clients) client.close();
  }

  private async writeOne(client: MemcachedClient, bytes: Buffer): Promise<void> {
    const lockKey = `${this.key}:lock`;
    for (let attempt = 1; ; attempt++) {
      if (await client.add(lockKey, Buffer.from('1'), { flags: 0, exptime: LOCK_TTL_SECONDS })) break;
      if (attempt >= LOCK_ATTEMPTS)
        throw new MemcachedError(`${lockKey} is held by another writer`, client.server);
      await new Promise((resolve) => setTimeout(resolve, LOCK_RETRY_MS));
    }
    try {
      await client.set(this.key, bytes, { flags: FLAG_SERIALIZED, exptime: 0 });
    } finally {
      await client.delete(lockKey).catch(() => undefined);
    }
  }
}
