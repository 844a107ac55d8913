// How a wiki's job table is named in errors and logs: the wiki, its DSN with any password masked,
// and the account, e.g. "wiki wiki3 (mysql:host=10.0.0.5;port=3306;dbname=wiki3, user wikiuser)".
import type { LegacyWikiConfig } from '../config/types.js';

/** A PDO DSN fit for output: the value of password= / pwd= (PDO accepts them in some drivers) masked. */
export function maskDsn(dsn: string): string {
  return dsn.replace(/((?:^|[;:])\s*(?:password|pwd)\s*=)[^;]*/gi, '$1***');
}

export function jobTableLabel(wiki: Pick<LegacyWikiConfig, 'wiki' | 'dsn' | 'user'>): string {
  const user = wiki.user === undefined ? '' : `, user ${wiki.user}`;
  return `wiki ${wiki.wiki} (${maskDsn(wiki.dsn)}${user})`;
}
