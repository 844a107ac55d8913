// jobrunner.conf loading: the original sample and production-style files, every default, the
// original merge rules, tolerant syntax (comments outside strings only, trailing commas).
import { describe, expect, it } from 'vitest';
import { resolve } from 'node:path';
import { loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { limitFor } from '../../src/config/types.js';

const FIXTURES = 'test/fixtures/configs';

/** A valid config with the given extra top-level members (JSON text without the braces). */
function configText(extra = ''): string {
  return `{
  "groups": { "basic": { "runners": 1, "include": ["*"] } },
  "redis": { "aggregators": ["127.0.0.1"], "queues": ["127.0.0.1:6380"] },
  "dispatcher": "php runJobs.php --wiki=%(db)x"${extra === '' ? '' : `,\n  ${extra}`}
}`;
}

describe('the original sample config', () => {
  const config = loadConfigFile(`${FIXTURES}/jobrunner.sample.conf`);

  it('keeps every group in file order, including the disabled one', () => {
    expect(config.groups.map((g) => [g.name, g.runners])).toEqual([
      ['basic', 19],
      ['gwt', 1],
      ['parsoid', 20],
      ['transcode', 0],
      ['upload', 7],
    ]);
    const basic = config.groups[0];
    expect(basic?.include).toEqual(['*']);
    expect(basic?.exclude).toContain('webVideoTranscode');
    expect(basic?.lowPriority).toEqual(['cirrusSearchLinksUpdate', 'htmlCacheUpdate', 'refreshLinks']);
    expect(config.groups[2]?.lowPriority).toEqual(['ParsoidCacheUpdateJobOnDependencyChange']);
    expect(config.groups[1]?.exclude).toEqual([]);
    expect(config.groups[1]?.lowPriority).toEqual([]);
  });

  it('reads limits, redis, statsd and the CLI dispatcher', () => {
    expect(config.limits.attempts).toEqual({ '*': 3 });
    expect(config.limits.claimTTL).toEqual({ '*': 3600, webVideoTranscode: 86400 });
    expect(config.limits.real).toEqual({ '*': 300, webVideoTranscode: 86400 });
    expect(config.limits.memory).toEqual({ '*': '300M' });
    const rdb1001 = { raw: 'rdb1001.eqiad.wmnet', host: 'rdb1001.eqiad.wmnet', port: 6379 };
    const rdb1003 = { raw: 'rdb1003.eqiad.wmnet', host: 'rdb1003.eqiad.wmnet', port: 6379 };
    expect(config.redis.aggregators).toEqual([rdb1001, rdb1003]);
    expect(config.redis.queues).toEqual([rdb1001, rdb1003]);
    expect(config.redis.password).toBe('sample-redis-password');
    expect(config.statsd).toEqual({ host: 'statsd.eqiad.wmnet', port: 8125, prefix: 'jobrunner' });
    expect(config.dispatch.kind).toBe('command');
    expect(config.dispatch.template).toBe(
      'nice -19 php /srv/mediawiki/multiversion/MWScript.php runJobs.php --wiki=%(db)x --type=%(type)x --maxtime=%(maxtime)x --memory-limit=%(maxmem)x --result=json',
    );
    expect(config.sourcePath).toBe(resolve(`${FIXTURES}/jobrunner.sample.conf`));
    expect(config.warnings).toEqual([]);
  });
});

describe('a production-style file', () => {
  const file = `${FIXTURES}/production.conf`;
  const config = loadConfigFile(file);

  it('accepts // and /* */ comments and trailing commas', () => {
    expect(config.groups.map((g) => g.name)).toEqual(['basic', 'upload', 'transcode']);
    expect(config.groups[0]?.exclude).toEqual([
      'AssembleUploadChunks',
      'PublishStashedFile',
      'webVideoTranscode',
      'webVideoTranscodePrioritized',
    ]);
    expect(config.groups[0]?.lowPriority).toEqual([
      'cirrusSearchLinksUpdate',
      'htmlCacheUpdate',
      'refreshLinks',
    ]);
    expect(config.groups[2]?.runners).toBe(0);
  });

  it('keeps // inside strings, written with and without \\/', () => {
    expect(config.dispatch.template).toBe(
      "curl -XPOST -s -a 'http://127.0.0.1:9005/rpc/RunJobs.php?wiki=%(db)u&type=%(type)u&maxtime=%(maxtime)u&maxmem=%(maxmem)u'",
    );
    expect(config.dispatch.kind).toBe('command');
    expect(config.dispatch.baseUrls).toEqual({
      enwiki: 'https://en.wikipedia.org/w/index.php',
      '*': 'http://%(db)u.wiki.local//w/index.php',
    });
    expect(config.redis.password).toBe('prod-redis-pass//with-slashes');
  });

  it('parses host:port lists, IPv6 included', () => {
    expect(config.redis.aggregators.map((a) => [a.host, a.port])).toEqual([
      ['rdb1001.eqiad.wmnet', 6378],
      ['2620:0:861:101::1', 6378],
    ]);
    expect(config.redis.queues.map((a) => [a.raw, a.host, a.port])).toEqual([
      ['rdb1001.eqiad.wmnet:6379', 'rdb1001.eqiad.wmnet', 6379],
      ['rdb1001.eqiad.wmnet:6380', 'rdb1001.eqiad.wmnet', 6380],
      ['rdb1003.eqiad.wmnet', 'rdb1003.eqiad.wmnet', 6379],
      ['2620:0:861:101::2', '2620:0:861:101::2', 6379],
    ]);
    expect(config.redis.connectTimeoutMs).toBe(2000);
    expect(config.redis.commandTimeoutMs).toBe(5000);
  });

  it('merges new sections over their defaults', () => {
    expect(config.statsd).toEqual({ host: 'statsd.eqiad.wmnet', port: 8125, prefix: 'mw.jobrunner' });
    expect(config.runner.maxPerQueue).toBe(3);
    expect(config.runner.maxPerWiki).toBe(10);
    expect(config.runner.highPriorityMaxSeconds).toBe(600);
    expect(config.chron).toEqual({
      intervalMs: 500,
      perCategoryLimit: 500,
      pruneAfterSeconds: 604800,
      leaseTtlMs: 30000,
      batchSize: 200,
      writeReadyHash: false,
      fullWalkSeconds: 300,
      watchChanges: true,
    });
    expect(config.status).toEqual({
      enabled: true,
      address: '::1',
      runnerPort: 19150,
      chronPort: 19151,
      adminTokenFile: undefined,
      allowedHosts: [],
    });
    expect(config.logging).toEqual({ level: 'debug', file: '/var/log/jobrunner/jobrunner.json' });
  });

  it('raises limits.real to runner.minRealSeconds and says so', () => {
    expect(config.limits.real).toEqual({ '*': 120, webVideoTranscode: 86400 });
    expect(config.limits.memory).toEqual({ '*': '300M', webVideoTranscode: '2G' });
    expect(config.warnings).toEqual([
      `${file}:34:24: limits.real.*: 60 s is raised to runner.minRealSeconds (120 s)`,
    ]);
  });
});

describe('defaults', () => {
  const config = parseConfigText(configText(), '/etc/jobrunner/jobrunner.conf');

  it('fills every new setting with its documented default', () => {
    expect(config.backend).toBe('redis');
    expect(config.runner).toEqual({
      highPriorityMaxSeconds: 600,
      lowPriorityMaxSeconds: 120,
      highPriorityMaxTime: 60,
      lowPriorityMaxTime: 30,
      minRealSeconds: 120,
      killGraceSeconds: 5,
      drainTimeoutSeconds: 60,
      discoveryIntervalMs: 50,
      wakeOnPush: true,
      idleDiscoveryIntervalMs: 1000,
      maxPerQueue: 2,
      maxPerWiki: 0,
      noneReadyBackoffSeconds: 2,
      nonePossibleBackoffSeconds: 600,
      wikiBackoffSeconds: 30,
      failureBackoffSeconds: 1,
      maxFailureBackoffSeconds: 300,
      maxJobsPerDispatch: 0,
      reconcileSeconds: 30,
      wikiFailureQueues: 3,
      maxFailingDispatchesPerSecond: 2,
      scheduling: {
        policy: 'fair',
        sliceSeconds: 3,
        longSliceSeconds: 10,
        expressSlots: 1,
        expressMaxReady: 10,
        expressSliceSeconds: 1,
        expressHoldSeconds: 5,
        burstSlots: 2,
        quietBurstSlots: 2,
        overrunSeconds: 1,
        wikiWeights: {},
        typeWeights: {},
      },
    });
    expect(config.chron).toEqual({
      intervalMs: 1000,
      perCategoryLimit: 500,
      pruneAfterSeconds: 604800,
      leaseTtlMs: 30000,
      batchSize: 200,
      writeReadyHash: true,
      fullWalkSeconds: 300,
      watchChanges: true,
    });
    expect(config.status).toEqual({
      enabled: true,
      address: '127.0.0.1',
      runnerPort: 9150,
      chronPort: 9151,
      adminTokenFile: undefined,
      allowedHosts: [],
    });
    expect(config.logging).toEqual({ level: 'info', file: undefined });
    expect(config.dispatch).toEqual({
      kind: 'command',
      template: 'php runJobs.php --wiki=%(db)x',
      connectTimeoutMs: 5000,
      baseUrls: {},
      secretKeyFile: undefined,
    });
    expect(config.redis.password).toBeUndefined();
    expect(config.redis.connectTimeoutMs).toBe(5000);
    expect(config.redis.commandTimeoutMs).toBe(5000);
    expect(config.statsd).toBeUndefined();
  });

  it('uses the built-in limits when there is no limits key', () => {
    expect(config.limits).toEqual({
      attempts: { '*': 3 },
      claimTTL: { '*': 3600 },
      real: { '*': 3600 },
      memory: { '*': '300M' },
    });
  });

  it("fills a group's missing lists with empty ones", () => {
    const text = configText().replace('{ "runners": 1, "include": ["*"] }', '{ "runners": 1 }');
    const group = parseConfigText(text, 'x.conf').groups[0];
    expect(group).toEqual({ name: 'basic', runners: 1, include: [], exclude: [], lowPriority: [] });
  });

  it('makes relative file settings relative to the config file', () => {
    const text = configText(
      '"status": { "adminTokenFile": "admin.token" }, "logging": { "file": "../log/jr.json" }',
    );
    const withFiles = parseConfigText(text, '/etc/jobrunner/jobrunner.conf');
    expect(withFiles.status.adminTokenFile).toBe('/etc/jobrunner/admin.token');
    expect(withFiles.logging.file).toBe('/etc/log/jr.json');
  });
});

describe('limits merge rules', () => {
  it('lets configured keys win and fills missing keys, "*" included, from the defaults', () => {
    const text = configText(
      '"limits": { "attempts": { "refreshLinks": 5 }, "claimTTL": { "*": 60 }, "real": { "cirrusSearch": 900 }, "memory": { "webVideoTranscode": "2G" } }',
    );
    const { limits } = parseConfigText(text, 'x.conf');
    expect(limits.attempts).toEqual({ '*': 3, refreshLinks: 5 });
    expect(limits.claimTTL).toEqual({ '*': 60 });
    expect(limits.real).toEqual({ '*': 3600, cirrusSearch: 900 });
    expect(limits.memory).toEqual({ '*': '300M', webVideoTranscode: '2G' });
  });

  it('looks a type up with "*" as the fallback', () => {
    const text = configText('"limits": { "real": { "*": 300, "webVideoTranscode": 86400 } }');
    const { limits } = parseConfigText(text, 'x.conf');
    expect(limitFor(limits.real, 'webVideoTranscode')).toBe(86400);
    expect(limitFor(limits.real, 'refreshLinks')).toBe(300);
    expect(limitFor(limits.attempts, 'refreshLinks')).toBe(3);
    expect(limitFor(limits.memory, 'refreshLinks')).toBe('300M');
  });

  it('raises every real value below runner.minRealSeconds', () => {
    const text = configText('"limits": { "real": { "*": 30, "fast": 119, "slow": 121 } }');
    const config = parseConfigText(text, 'x.conf');
    expect(config.limits.real).toEqual({ '*': 120, fast: 120, slow: 121 });
    expect(config.warnings).toEqual([
      'x.conf:5:30: limits.real.*: 30 s is raised to runner.minRealSeconds (120 s)',
      'x.conf:5:42: limits.real.fast: 119 s is raised to runner.minRealSeconds (120 s)',
    ]);
  });

  it('honours a configured minRealSeconds', () => {
    const text = configText('"limits": { "real": { "*": 30 } }, "runner": { "minRealSeconds": 0 }');
    const config = parseConfigText(text, 'x.conf');
    expect(config.limits.real).toEqual({ '*': 30 });
    expect(config.warnings).toEqual([
      'x.conf:5:30: limits.real.*: 30 s is less than twice the longest maxtime (120 s); children may be killed before their time budget is up',
    ]);
  });
});

describe('statsd', () => {
  it('defaults the port of "host" to 8125', () => {
    expect(parseConfigText(configText('"statsd": "statsd.local"'), 'x.conf').statsd).toEqual({
      host: 'statsd.local',
      port: 8125,
      prefix: 'jobrunner',
    });
  });

  it('reads "host:port" and IPv6 forms', () => {
    expect(parseConfigText(configText('"statsd": "10.0.0.1:9125"'), 'x.conf').statsd?.port).toBe(9125);
    expect(parseConfigText(configText('"statsd": "[::1]:9125"'), 'x.conf').statsd).toEqual({
      host: '::1',
      port: 9125,
      prefix: 'jobrunner',
    });
  });

  it('accepts the object form with defaults', () => {
    expect(parseConfigText(configText('"statsd": { "host": "::1" }'), 'x.conf').statsd).toEqual({
      host: '::1',
      port: 8125,
      prefix: 'jobrunner',
    });
    expect(
      parseConfigText(configText('"statsd": { "host": "s", "port": 1, "prefix": "a.b" }'), 'x.conf').statsd,
    ).toEqual({ host: 's', port: 1, prefix: 'a.b' });
  });
});

describe('dispatch', () => {
  const dispatchOf = (extra: string, dispatcher?: string) => {
    let text = configText(extra);
    if (dispatcher !== undefined)
      text = text.replace('"php runJobs.php --wiki=%(db)x"', JSON.stringify(dispatcher));
    return parseConfigText(text, 'x.conf').dispatch;
  };

  it('derives the kind from the dispatcher', () => {
    expect(dispatchOf('', 'http://127.0.0.1/rpc/RunJobs.php?wiki=%(db)u').kind).toBe('http');
    expect(dispatchOf('', 'HTTPS://jobs.local/run?wiki=%(db)u').kind).toBe('http');
    expect(dispatchOf('', "curl -XPOST 'http:\\/\\/127.0.0.1\\/rpc'").kind).toBe('command');
    expect(dispatchOf('').kind).toBe('command');
  });

  it('lets an explicit kind win', () => {
    expect(dispatchOf('"dispatch": { "kind": "command" }', 'http://x/').kind).toBe('command');
  });

  it('reads special-runjobs without a dispatcher', () => {
    const text = configText(
      '"dispatch": { "kind": "special-runjobs", "baseUrls": { "*": "http://127.0.0.1:8080/%(db)u/index.php" }, "secretKeyFile": "secret.key", "connectTimeoutMs": 250 }',
    ).replace('"dispatcher": "php runJobs.php --wiki=%(db)x",', '');
    const dispatch = parseConfigText(text, '/srv/conf/jobrunner.conf').dispatch;
    expect(dispatch).toEqual({
      kind: 'special-runjobs',
      template: '',
      connectTimeoutMs: 250,
      baseUrls: { '*': 'http://127.0.0.1:8080/%(db)u/index.php' },
      secretKeyFile: '/srv/conf/secret.key',
    });
  });
});

describe('other keys', () => {
  it('accepts the legacy wrapper key with a warning', () => {
    const config = parseConfigText(configText('"wrapper": "/usr/local/bin/mwscript"'), 'x.conf');
    expect(config.warnings).toEqual(["x.conf:5:3: wrapper: legacy key 'wrapper' is ignored"]);
  });

  it('accepts every backend', () => {
    // backend kafka also needs its kafka section (test/unit/kafka-config.test.ts has the details).
    const kafka =
      '"kafka": { "brokers": ["127.0.0.1:9092"], "datacenter": "dc1", "endpoint": "http://127.0.0.1/rpc/RunSingleJob.php" }';
    // backend memcached needs its memcached section (test/integration/legacy-backend.test.ts uses it).
    const memcached =
      '"memcached": { "servers": ["127.0.0.1:11211"], "wikis": { "w": { "dsn": "sqlite:w.sqlite" } } }';
    const sections: Record<string, string> = { kafka, memcached };
    for (const backend of ['redis', 'kafka', 'memcached'] as const) {
      const section = sections[backend];
      const extra = section !== undefined ? `"backend": "${backend}", ${section}` : `"backend": "${backend}"`;
      expect(parseConfigText(configText(extra), 'x.conf').backend).toBe(backend);
    }
  });

  it('keeps groups in file order even with integer-like names', () => {
    const text = configText().replace(
      '"basic": { "runners": 1, "include": ["*"] }',
      '"zeta": { "runners": 1, "include": ["*"] }, "10": { "runners": 2, "include": ["a"] }, "alpha": { "runners": 0 }',
    );
    expect(parseConfigText(text, 'x.conf').groups.map((g) => g.name)).toEqual(['zeta', '10', 'alpha']);
  });

  it('warns when no group would run anything', () => {
    const text = configText().replace('"runners": 1', '"runners": 0');
    expect(parseConfigText(text, 'x.conf').warnings).toEqual([
      'x.conf:2:3: groups: every group has runners 0; jobrunner will run no jobs',
    ]);
  });

  it('warns about a key given twice and keeps the last', () => {
    const text = configText('"statsd": "a:1",\n  "statsd": "b:2"');
    const config = parseConfigText(text, 'x.conf');
    expect(config.statsd?.host).toBe('b');
    expect(config.warnings).toEqual([
      "x.conf:6:3: statsd: duplicate key 'statsd' (also at line 5:3); only the last one counts",
    ]);
  });

  it('keeps comment markers that are inside strings', () => {
    const text = `{
  // a real comment
  "groups": { "g": { "runners": 1, "include": ["type/*x*/", "a//b", "/* c */"] } }, /* another */
  "redis": { "aggregators": ["127.0.0.1"], "queues": ["127.0.0.1"], "password": "p//w/*x*/" },
  "dispatcher": "php x.php # // not a comment /* nor this */",
}`;
    const config = parseConfigText(text, 'x.conf');
    expect(config.groups[0]?.include).toEqual(['type/*x*/', 'a//b', '/* c */']);
    expect(config.redis.password).toBe('p//w/*x*/');
    expect(config.dispatch.template).toBe('php x.php # // not a comment /* nor this */');
  });

  it('treats an empty password as no password', () => {
    const text = configText().replace(
      '"queues": ["127.0.0.1:6380"]',
      '"queues": ["127.0.0.1:6380"], "password": ""',
    );
    expect(parseConfigText(text, 'x.conf').redis.password).toBeUndefined();
  });

  it('ignores a byte-order mark and CRLF line ends', () => {
    const text = '\uFEFF' + configText('"wrapper": "w"').replace(/\n/g, '\r\n');
    expect(parseConfigText(text, 'x.conf').warnings).toEqual([
      "x.conf:5:3: wrapper: legacy key 'wrapper' is ignored",
    ]);
  });
});
