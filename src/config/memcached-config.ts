// The memcached section (backend memcached, the legacy JobQueueDB era): parses the server
// addresses and resolves the file settings against the config file's directory.
import { isAbsolute, resolve } from 'node:path';
import { AddressError, parseHostPort } from '../redis/address.js';
import type { ConfigIssue } from './errors.js';
import type { RawMemcached } from './raw-types.js';
import type { LegacyWikiConfig, MemcachedConfig, MemcachedServerAddress } from './types.js';

export const DEFAULT_MEMCACHED_PORT = 11211;

/** "sqlite:relative/file" → "sqlite:/abs/relative/file"; other DSNs unchanged. */
function resolveDsn(dsn: string, baseDir: string): string {
  if (!dsn.startsWith('sqlite:')) return dsn;
  const file = dsn.slice('sqlite:'.length);
  if (file === ':memory:' || isAbsolute(file)) return dsn;
  return `sqlite:${resolve(baseDir, file)}`;
}

export function buildMemcachedConfig(
  raw: RawMemcached,
  baseDir: string,
  errors: ConfigIssue[],
): MemcachedConfig {
  const servers: MemcachedServerAddress[] = [];
  raw.servers.forEach((text, index) => {
    try {
      const { host, port } = parseHostPort(text, DEFAULT_MEMCACHED_PORT);
      servers.push({ raw: text, host, port });
    } catch (error) {
      const detail = error instanceof AddressError ? error.message : String(error);
      errors.push({
        path: ['memcached', 'servers', index],
        message: `expected "host[:port]", but ${detail}`,
      });
    }
  });
  const wikis: LegacyWikiConfig[] = [];
  for (const [wiki, entry] of Object.entries(raw.wikis)) {
    if (/[\s/]/.test(wiki)) {
      errors.push({
        path: ['memcached', 'wikis', wiki],
        at: 'key',
        message: `wiki ID '${wiki}' may not contain whitespace or '/'`,
      });
    }
    if (entry.dsn.startsWith('mysql:') && entry.user === undefined) {
      errors.push({
        path: ['memcached', 'wikis', wiki, 'dsn'],
        message: 'a mysql DSN needs "user" (and usually "passwordFile")',
      });
    }
    wikis.push({
      wiki,
      dsn: resolveDsn(entry.dsn, baseDir),
      tablePrefix: entry.tablePrefix,
      user: entry.user,
      passwordFile: entry.passwordFile === undefined ? undefined : resolve(baseDir, entry.passwordFile),
    });
  }
  return {
    servers,
    registryKey: raw.registryKey,
    staleAfterSeconds: raw.staleAfterSeconds,
    connectTimeoutMs: raw.connectTimeoutMs,
    commandTimeoutMs: raw.commandTimeoutMs,
    php: raw.php,
    wikis,
  };
}
