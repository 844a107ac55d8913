// The database side of a MariaDB test farm (buildFarm({ mariadb })): one private mariadbd per
// section started on the data dir copied from the template, a fresh password for the wikis' account,
// and where each wiki's JobQueueDB `job` table lives (the DSN jobrunner's memcached section needs).
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MARIADB_FARM_USER } from './farm-template.js';
import { startMariaDb, type MariaDbHandle } from './mariadb-server.js';

export interface MariaDbSection {
  /** s1, s2, ... */
  readonly name: string;
  readonly server: MariaDbHandle;
  readonly wikis: readonly string[];
}

/** One wiki's entry for the memcached section of jobrunner.conf. */
export interface LegacyWikiEntry {
  readonly dsn: string;
  readonly user: string;
  readonly passwordFile: string;
  readonly tablePrefix?: string;
}

export interface MariaDbFarm {
  readonly sections: readonly MariaDbSection[];
  readonly user: string;
  /** DIR/db.pass (mode 0600): the wikis' database password. */
  readonly passwordFile: string;
  /** The same password, for tests that check it never leaks. */
  readonly password: string;
  sectionOf(wiki: string): MariaDbSection;
  /** PDO DSN of the wiki's database ("mysql:host=127.0.0.1;port=…;dbname=…"). */
  dsn(wiki: string): string;
  /** DSN, account, password file and table prefix of the wiki's job table. */
  legacyWiki(wiki: string): LegacyWikiEntry;
  /** "s1=127.0.0.1:PORT,s2=…" for FarmSettings.php. */
  serversVariable(): string;
  stop(): Promise<void>;
}

/** DB name and table prefix of a farm wiki ID ("DB-PREFIX" has a prefix, see mw-farm.sh). */
function dbAndPrefix(wiki: string): { db: string; prefix: string } {
  const dash = wiki.indexOf('-');
  return dash === -1 ? { db: wiki, prefix: '' } : { db: wiki.slice(0, dash), prefix: wiki.slice(dash + 1) };
}

/** Starts the servers of a farm dir copied from a MariaDB template (mariadb/<section>/data). */
export async function startFarmDatabases(dir: string): Promise<MariaDbFarm> {
  const placement = new Map<string, string[]>();
  for (const line of readFileSync(join(dir, 'db-sections.list'), 'utf8').split('\n')) {
    const [wiki, section] = line.trim().split(/\s+/);
    if (!wiki || !section) continue;
    placement.set(section, [...(placement.get(section) ?? []), wiki]);
  }
  const names = readdirSync(join(dir, 'mariadb')).sort();
  const sections: MariaDbSection[] = [];
  try {
    const started = await Promise.all(names.map((name) => startMariaDb({ dir: join(dir, 'mariadb', name) })));
    started.forEach((server, i) => {
      const name = names[i] ?? '';
      sections.push({ name, server, wikis: placement.get(name) ?? [] });
    });
    // Every farm its own password: the template's never reaches a test's logs.
    const password = randomBytes(16).toString('hex');
    await Promise.all(sections.map((s) => s.server.createUser(MARIADB_FARM_USER, password)));
    const passwordFile = join(dir, 'db.pass');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    return farmDatabases(sections, password, passwordFile);
  } catch (error) {
    await Promise.allSettled(sections.map((s) => s.server.stop()));
    throw error;
  }
}

function farmDatabases(sections: MariaDbSection[], password: string, passwordFile: string): MariaDbFarm {
  const sectionOf = (wiki: string): MariaDbSection => {
    const section = sections.find((s) => s.wikis.includes(wiki));
    if (!section) throw new Error(`no MariaDB section holds wiki '${wiki}'`);
    return section;
  };
  const dsn = (wiki: string): string => {
    const { server } = sectionOf(wiki);
    return `mysql:host=${server.host};port=${server.port};dbname=${dbAndPrefix(wiki).db}`;
  };
  return {
    sections,
    user: MARIADB_FARM_USER,
    passwordFile,
    password,
    sectionOf,
    dsn,
    legacyWiki: (wiki) => {
      const { prefix } = dbAndPrefix(wiki);
      return {
        dsn: dsn(wiki),
        user: MARIADB_FARM_USER,
        passwordFile,
        ...(prefix !== '' ? { tablePrefix: prefix } : {}),
      };
    },
    serversVariable: () => sections.map((s) => `${s.name}=${s.server.address}`).join(','),
    stop: async () => {
      await Promise.allSettled(sections.map((s) => s.server.stop()));
    },
  };
}
