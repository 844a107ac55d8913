// From the memcached section's wiki list to what the job-table helper needs.
import type { LegacyWikiConfig, LimitsConfig } from '../config/types.js';
import { readSecretFile } from '../config/secret-file.js';
import type { JobTableDb, SummaryLimits } from './job-table-client.js';

/** The helper's view of one wiki's job table; reads the password file (throws ConfigError). */
export function jobTableDb(wiki: LegacyWikiConfig): JobTableDb {
  return {
    dsn: wiki.dsn,
    prefix: wiki.tablePrefix,
    ...(wiki.user !== undefined ? { user: wiki.user } : {}),
    ...(wiki.passwordFile !== undefined
      ? { password: readSecretFile(wiki.passwordFile, `memcached.wikis.${wiki.wiki}.passwordFile`) }
      : {}),
  };
}

/** limits.claimTTL / limits.attempts in the helper's form ("*" is the default). */
export function summaryLimits(limits: Pick<LimitsConfig, 'claimTTL' | 'attempts'>): SummaryLimits {
  const types: Record<string, { claimTTL?: number; attempts?: number }> = {};
  for (const [type, claimTTL] of Object.entries(limits.claimTTL)) {
    if (type !== '*') types[type] = { ...types[type], claimTTL };
  }
  for (const [type, attempts] of Object.entries(limits.attempts)) {
    if (type !== '*') types[type] = { ...types[type], attempts };
  }
  return { default: { claimTTL: limits.claimTTL['*'], attempts: limits.attempts['*'] }, types };
}
