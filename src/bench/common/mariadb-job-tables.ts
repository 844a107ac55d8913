// bench:migrate's legacy era on MariaDB: two private mariadbd servers (two sections), the bench
// wikis' databases spread over them, each with MediaWiki 1.39's MySQL `job` table (DDL read from the
// installed MediaWiki) filled with N rows as JobQueueDB writes them.
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { mediawikiPath } from '../../farm/farm-paths.js';
import { startMariaDb, type MariaDbHandle } from '../../farm/mariadb-server.js';

export interface MariaDbJobTables {
  /** memcached.wikis entries of jobrunner.conf. */
  readonly wikis: Record<string, { dsn: string; user: string; passwordFile: string }>;
  readonly servers: readonly MariaDbHandle[];
  stop(): Promise<void>;
}

const USER = 'jobrunner';
const TABLE_OPTIONS = 'ENGINE=InnoDB, DEFAULT CHARSET=binary';

/** The `job` table of MediaWiki's MySQL schema. */
function jobTableDdl(): string {
  const sql = readFileSync(join(mediawikiPath(), 'maintenance', 'tables-generated.sql'), 'utf8');
  const ddl = sql
    .split(';')
    .map((s) => s.trim())
    .find((s) => s.startsWith('CREATE TABLE /*_*/job ('));
  if (!ddl) throw new Error('no CREATE TABLE job in MediaWiki’s maintenance/tables-generated.sql');
  return ddl.replace('/*_*/', '').replace('/*$wgDBTableOptions*/', TABLE_OPTIONS);
}

/** Inserts `per` rows into each database with PHP's pdo_mysql, 1000 rows per INSERT. */
function fill(dsns: string[], password: string, per: number, types: readonly string[]): Promise<void> {
  const script = `
[$per, $types, $user, $pass] = [(int)$argv[1], explode(',', $argv[2]), $argv[3], getenv('JR_BENCH_DB_PASSWORD')];
foreach (array_slice($argv, 4) as $dsn) {
  $db = new PDO($dsn, $user, $pass, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
  $db->beginTransaction();
  for ($start = 0; $start < $per; $start += 1000) {
    $rows = []; $values = [];
    for ($i = $start; $i < min($per, $start + 1000); $i++) {
      $rows[] = "(?, -1, '', ?, ?, ?, 0, '', NULL, '')";
      array_push($values, $types[$i % count($types)], gmdate('YmdHis'),
        serialize(['seq' => $i, 'requestId' => 'b3nchb3nchb3nchb3nchb3nc']), mt_rand(0, 2147483647));
    }
    $db->prepare('INSERT INTO job (job_cmd, job_namespace, job_title, job_timestamp, job_params, job_random, job_attempts, job_token, job_token_timestamp, job_sha1) VALUES ' . implode(',', $rows))->execute($values);
  }
  $db->commit();
}`;
  return new Promise((done, fail) =>
    execFile(
      'php',
      ['-r', script, String(per), types.join(','), USER, ...dsns],
      { maxBuffer: 1 << 20, env: { ...process.env, JR_BENCH_DB_PASSWORD: password } },
      (error) => (error ? fail(error) : done()),
    ),
  );
}

export async function fillMariaDbJobTables(
  dir: string,
  wikis: readonly string[],
  types: readonly string[],
  jobs: number,
): Promise<MariaDbJobTables> {
  const servers = await Promise.all([startMariaDb(), startMariaDb()]);
  try {
    const password = randomBytes(16).toString('hex');
    const passwordFile = join(dir, 'mariadb.pass');
    writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    const ddl = jobTableDdl();
    const entries: MariaDbJobTables['wikis'] = {};
    for (const server of servers) await server.createUser(USER, password);
    await Promise.all(
      wikis.map(async (wiki, i) => {
        const server = servers[i % servers.length] as MariaDbHandle;
        await server.sql(`CREATE DATABASE ${wiki};\nUSE ${wiki};\n${ddl};\n`);
        entries[wiki] = {
          dsn: `mysql:host=${server.host};port=${server.port};dbname=${wiki}`,
          user: USER,
          passwordFile,
        };
      }),
    );
    await fill(
      wikis.map((w) => entries[w]?.dsn ?? ''),
      password,
      Math.ceil(jobs / wikis.length),
      types,
    );
    return {
      wikis: entries,
      servers,
      stop: async () => {
        await Promise.allSettled(servers.map((s) => s.stop()));
      },
    };
  } catch (error) {
    await Promise.allSettled(servers.map((s) => s.stop()));
    throw error;
  }
}
