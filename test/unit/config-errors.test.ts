// Every kind of config error names file:line:column and the JSON path and says what was expected;
// secrets never appear in messages.
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../../src/config/errors.js';
import { loadConfigFile, parseConfigText } from '../../src/config/load.js';
import { readSecretFile } from '../../src/config/secret-file.js';

const BROKEN = 'test/fixtures/configs/broken';

/** The ConfigError thrown by `load`; fails the test when nothing (or something else) is thrown. */
function configErrorOf(load: () => unknown): ConfigError {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

/** The formatted problems, checking that `message` is exactly the problems, one per line. */
function problemsOf(load: () => unknown): string[] {
  const error = configErrorOf(load);
  const lines = error.problems.map((p) => {
    const where = p.line > 0 ? `${p.file}:${p.line}:${p.column}` : p.file;
    return p.path === '' ? `${where}: ${p.message}` : `${where}: ${p.path}: ${p.message}`;
  });
  expect(error.message).toBe(lines.join('\n'));
  return lines;
}

const fileProblems = (name: string) => problemsOf(() => loadConfigFile(`${BROKEN}/${name}`));
const textProblems = (text: string) => problemsOf(() => parseConfigText(text, 'c.conf'));

/** A valid config on four lines; `extra` becomes line 5 (top-level members, no braces). */
function configText(extra = ''): string {
  return `{
  "groups": { "basic": { "runners": 1, "include": ["*"] } },
  "redis": { "aggregators": ["127.0.0.1"], "queues": ["127.0.0.1"] },
  "dispatcher": "php runJobs.php"${extra === '' ? '' : `,\n  ${extra}`}
}`;
}

describe('unreadable files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('says when the file does not exist', () => {
    expect(problemsOf(() => loadConfigFile(join(dir, 'nope.conf')))).toEqual([
      `${join(dir, 'nope.conf')}: cannot read the configuration file: it does not exist`,
    ]);
  });

  it('says when the path is a directory', () => {
    expect(problemsOf(() => loadConfigFile(dir))).toEqual([
      `${dir}: cannot read the configuration file: it is a directory`,
    ]);
  });

  it('reports the problem as structured data too', () => {
    expect(configErrorOf(() => loadConfigFile(join(dir, 'nope.conf'))).problems).toEqual([
      {
        file: join(dir, 'nope.conf'),
        path: '',
        line: 0,
        column: 0,
        message: 'cannot read the configuration file: it does not exist',
      },
    ]);
    expect(
      configErrorOf(() => loadConfigFile('test/fixtures/configs/broken/unknown-key.conf')).problems,
    ).toEqual([
      {
        file: 'test/fixtures/configs/broken/unknown-key.conf',
        path: 'groups.basic.runers',
        line: 4,
        column: 7,
        message: "unknown key 'runers' in groups.basic; did you mean 'runners'?",
      },
    ]);
  });
});

describe('syntax errors', () => {
  it('names file:line:column and what was expected', () => {
    expect(fileProblems('missing-comma.conf')).toEqual([
      `${BROKEN}/missing-comma.conf:5:7: groups.basic.include: syntax error: expected ',' or '}' after a property`,
    ]);
    expect(fileProblems('unclosed-comment.conf')).toEqual([
      `${BROKEN}/unclosed-comment.conf:3:3: syntax error: a /* comment is not closed; expected '*/'`,
    ]);
  });

  it('explains each kind', () => {
    expect(textProblems('{\n  "a": [1, 2\n}')).toEqual([
      "c.conf:3:1: a[1]: syntax error: expected ',' or ']' after a list entry",
    ]);
    expect(textProblems('{\n  "a" 1\n}')).toEqual([
      "c.conf:2:7: a: syntax error: expected ':' after the property name",
    ]);
    expect(textProblems('{\n  "a": "open\n}')).toEqual([
      "c.conf:2:8: a: syntax error: a string is not closed; expected '\"' before the end of the line",
    ]);
    expect(textProblems('{ "a": "\\q" }')).toEqual([
      'c.conf:1:8: a: syntax error: unknown escape in a string; expected one of \\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX',
    ]);
    expect(textProblems('{ "a": 1 } }')).toEqual([
      'c.conf:1:12: syntax error: expected the end of the file after the top-level value',
    ]);
    expect(textProblems('{ a: 1 }')).toEqual([
      'c.conf:1:3: syntax error: unexpected text; expected a property name in double quotes',
    ]);
    expect(textProblems('{ "a": }')).toEqual(['c.conf:1:8: a: syntax error: expected a value']);
    expect(textProblems('{ "a": 1')).toEqual([
      "c.conf:1:9: a: syntax error: expected '}' to close an object",
    ]);
  });

  it('rejects a file that is empty, only comments, or not an object', () => {
    expect(textProblems('  \n')).toEqual(['c.conf: the file is empty; expected a JSON object']);
    expect(fileProblems('only-comments.conf')).toEqual([
      `${BROKEN}/only-comments.conf: the file holds nothing but comments; expected a JSON object`,
    ]);
    expect(fileProblems('not-an-object.conf')).toEqual([
      `${BROKEN}/not-an-object.conf:2:1: expected a JSON object {...} at the top level, got a list`,
    ]);
    expect(textProblems('"text"')).toEqual([
      'c.conf:1:1: expected a JSON object {...} at the top level, got a single value',
    ]);
  });

  it('never quotes the broken text, which may hold a password', () => {
    const text = configText().replace(
      '"queues": ["127.0.0.1"]',
      `"queues": ["127.0.0.1"], "password": 'Tr0ub4dor&3'`,
    );
    const problems = textProblems(text);
    expect(problems).toEqual([
      'c.conf:3:81: redis.password: syntax error: unexpected text; expected a JSON value (a "double-quoted" string, a number, true, false, null, {...} or [...])',
    ]);
    expect(problems.join('\n')).not.toContain('Tr0ub4dor');
  });
});

describe('schema errors', () => {
  it('reports an unknown key with the closest known key', () => {
    expect(fileProblems('unknown-key.conf')).toEqual([
      `${BROKEN}/unknown-key.conf:4:7: groups.basic.runers: unknown key 'runers' in groups.basic; did you mean 'runners'?`,
    ]);
  });

  it('suggests across case and dashes, and lists known keys when nothing is close', () => {
    expect(textProblems(configText('"dispatchr": "x"'))).toEqual([
      "c.conf:5:3: dispatchr: unknown key 'dispatchr' at the top level; did you mean 'dispatcher'?",
    ]);
    expect(textProblems(configText('"limits": { "claimTtl": {} }'))).toEqual([
      "c.conf:5:15: limits.claimTtl: unknown key 'claimTtl' in limits; did you mean 'claimTTL'?",
    ]);
    expect(textProblems(configText().replace('"runners": 1,', '"runners": 1, "lowPriority": [],'))).toEqual([
      "c.conf:2:40: groups.basic.lowPriority: unknown key 'lowPriority' in groups.basic; did you mean 'low-priority'?",
    ]);
    expect(textProblems(configText('"chron": { "zzz": 1 }'))).toEqual([
      "c.conf:5:14: chron.zzz: unknown key 'zzz' in chron; known keys: intervalMs, perCategoryLimit, pruneAfterSeconds, leaseTtlMs, batchSize, writeReadyHash, fullWalkSeconds, watchChanges",
    ]);
  });

  it('rejects runners that are not a real integer', () => {
    expect(fileProblems('runners-string.conf')).toEqual([
      `${BROKEN}/runners-string.conf:3:27: groups.basic.runners: expected a whole number, got a string (write the number without quotes)`,
      `${BROKEN}/runners-string.conf:4:41: groups.other.include: expected a list [...], got a string`,
      `${BROKEN}/runners-string.conf:6:29: redis.aggregators: expected a list with at least 1 entry, got an empty list`,
    ]);
    expect(textProblems(configText().replace('"runners": 1', '"runners": 1.5'))).toEqual([
      'c.conf:2:37: groups.basic.runners: expected a whole number, got 1.5',
    ]);
    expect(textProblems(configText().replace('"runners": 1', '"runners": -1'))).toEqual([
      'c.conf:2:37: groups.basic.runners: expected a number of at least 0, got -1',
    ]);
  });

  it('reports missing required keys at the enclosing object, unless a typo of it is there', () => {
    expect(textProblems('{\n  "dispatcher": "x"\n}')).toEqual([
      "c.conf:1:1: groups: missing required key 'groups' at the top level",
      "c.conf:1:1: redis: missing required key 'redis' at the top level",
    ]);
    expect(textProblems(configText().replace('"queues": ["127.0.0.1"]', '"queues2": []'))).toEqual([
      "c.conf:3:44: redis.queues2: unknown key 'queues2' in redis; did you mean 'queues'?",
    ]);
  });

  it('needs at least one group, with non-empty names', () => {
    expect(
      textProblems(configText().replace('{ "basic": { "runners": 1, "include": ["*"] } }', '{}')),
    ).toEqual(['c.conf:2:13: groups: expected at least one runner group, got none']);
    expect(textProblems(configText().replace('"basic"', '""'))).toEqual([
      'c.conf:2:15: groups[""]: an empty key is not allowed in groups',
    ]);
  });

  it('checks enums, patterns, ranges and types of the new sections', () => {
    expect(textProblems(configText('"backend": "mysql"'))).toEqual([
      "c.conf:5:14: backend: expected one of 'redis', 'kafka', 'memcached', got \"mysql\"",
    ]);
    expect(textProblems(configText('"limits": { "memory": { "*": "300MB" } }'))).toEqual([
      'c.conf:5:32: limits.memory.*: expected a PHP memory size such as "300M", "1G" or -1, got "300MB"',
    ]);
    expect(textProblems(configText('"status": { "runnerPort": 70000, "enabled": "yes" }'))).toEqual([
      'c.conf:5:29: status.runnerPort: expected a number of at most 65535, got 70000',
      'c.conf:5:47: status.enabled: expected true or false, got a string',
    ]);
    expect(textProblems(configText('"runner": { "highPriorityMaxSeconds": 0 }'))).toEqual([
      'c.conf:5:41: runner.highPriorityMaxSeconds: expected a number greater than 0, got 0',
    ]);
    expect(textProblems(configText('"statsd": 8125'))).toEqual([
      'c.conf:5:13: statsd: expected a string in double quotes or an object {...}, got 8125',
    ]);
    expect(textProblems(configText('"statsd": { "hots": "x" }'))).toEqual([
      "c.conf:5:15: statsd.hots: unknown key 'hots' in statsd; did you mean 'host'?",
    ]);
    expect(textProblems(configText('"dispatch": { "baseUrls": { "enwiki": "ftp://x" } }'))).toEqual([
      'c.conf:5:41: dispatch.baseUrls.enwiki: expected an http:// or https:// URL, got "ftp://x"',
    ]);
    expect(textProblems(configText('"limits": { "memory": { "a.b": "x" } }'))).toEqual([
      'c.conf:5:34: limits.memory["a.b"]: expected a PHP memory size such as "300M", "1G" or -1, got "x"',
    ]);
    expect(textProblems(configText('"logging": { "level": "verbose" }'))).toEqual([
      "c.conf:5:25: logging.level: expected one of 'error', 'warn', 'info', 'debug', got \"verbose\"",
    ]);
    expect(textProblems(configText().replace('"dispatcher": "php runJobs.php"', '"dispatcher": ""'))).toEqual(
      ['c.conf:4:17: dispatcher: expected a non-empty string'],
    );
  });
});

describe('cross-field checks', () => {
  it('parses redis addresses and refuses duplicates', () => {
    const text = configText().replace(
      '"queues": ["127.0.0.1"]',
      '"queues": ["127.0.0.1", "[::1]:99999", "127.0.0.1:6379", "h:x"]',
    );
    expect(textProblems(text)).toEqual([
      'c.conf:3:68: redis.queues[1]: expected "host[:port]" (IPv6 as "[::1]:6380"), but "[::1]:99999" has a port out of range',
      'c.conf:3:83: redis.queues[2]: the same server is already listed as redis.queues[0]',
      'c.conf:3:101: redis.queues[3]: expected "host[:port]" (IPv6 as "[::1]:6380"), but "h:x" has a bad port',
    ]);
  });

  it('parses the statsd address', () => {
    expect(textProblems(configText('"statsd": "statsd:port"'))).toEqual([
      'c.conf:5:13: statsd: expected "host[:port]" (IPv6 as "[::1]:8125"), but "statsd:port" has a bad port',
    ]);
  });

  it('needs a dispatcher unless special-runjobs is used', () => {
    expect(textProblems(configText().replace(',\n  "dispatcher": "php runJobs.php"', ''))).toEqual([
      "c.conf:1:1: dispatcher: missing required key 'dispatcher' (the command or URL template that runs jobs); only dispatch.kind 'special-runjobs' works without it",
    ]);
  });

  it('needs baseUrls and secretKeyFile for special-runjobs', () => {
    expect(fileProblems('special-runjobs-incomplete.conf')).toEqual([
      `${BROKEN}/special-runjobs-incomplete.conf:4:3: dispatch.baseUrls: dispatch.kind 'special-runjobs' needs baseUrls: wiki ID (or "*") → base URL of index.php`,
      `${BROKEN}/special-runjobs-incomplete.conf:4:3: dispatch.secretKeyFile: dispatch.kind 'special-runjobs' needs secretKeyFile: a file holding $wgSecretKey`,
    ]);
  });

  it('needs a URL dispatcher for kind http', () => {
    expect(textProblems(configText('"dispatch": { "kind": "http" }'))).toEqual([
      "c.conf:4:17: dispatcher: dispatch.kind is 'http', so expected an http:// or https:// URL template",
    ]);
  });

  it('checks runner back-offs and status ports', () => {
    expect(
      textProblems(
        configText(
          '"runner": { "failureBackoffSeconds": 10, "maxFailureBackoffSeconds": 5 }, "status": { "chronPort": 9150 }',
        ),
      ),
    ).toEqual([
      'c.conf:5:72: runner.maxFailureBackoffSeconds: expected at least runner.failureBackoffSeconds (10), got 5',
      'c.conf:5:102: status.chronPort: jobrunner and jobchron cannot both listen on port 9150; expected different runnerPort and chronPort',
    ]);
    // Port 0 (any free port) twice, or a disabled status server, is fine.
    expect(() =>
      parseConfigText(configText('"status": { "runnerPort": 0, "chronPort": 0 }'), 'c.conf'),
    ).not.toThrow();
    expect(() =>
      parseConfigText(configText('"status": { "enabled": false, "chronPort": 9150 }'), 'c.conf'),
    ).not.toThrow();
  });
});

describe('secrets', () => {
  const PASSWORD = 'hunter2-s3cret';

  it('masks the redis password wherever it shows up in schema errors', () => {
    const problems = fileProblems('secret-leak.conf');
    expect(problems.join('\n')).not.toContain(PASSWORD);
    expect(problems).toEqual([
      `${BROKEN}/secret-leak.conf:9:3: ***: unknown key '***' at the top level; known keys: backend, groups, limits, redis, statsd, dispatcher, wrapper, dispatch, runner, chron, status, logging, kafka, memcached, intake`,
      `${BROKEN}/secret-leak.conf:10:25: logging.level: expected one of 'error', 'warn', 'info', 'debug', got "***"`,
    ]);
  });

  it('masks it in address errors', () => {
    const text = configText(`"statsd": "${PASSWORD}:99999"`).replace(
      '"aggregators": ["127.0.0.1"]',
      `"aggregators": ["${PASSWORD}:x"], "password": "${PASSWORD}"`,
    );
    const problems = textProblems(text);
    expect(problems.join('\n')).not.toContain(PASSWORD);
    expect(problems).toEqual([
      'c.conf:3:30: redis.aggregators[0]: expected "host[:port]" (IPv6 as "[::1]:6380"), but "***:x" has a bad port',
      'c.conf:5:13: statsd: expected "host[:port]" (IPv6 as "[::1]:8125"), but "***:99999" has a port out of range',
    ]);
  });

  it('masks it in warnings', () => {
    const text = configText(`"limits": { "real": { "${PASSWORD}": 1, "${PASSWORD}": 2 } }`).replace(
      '"queues": ["127.0.0.1"]',
      `"queues": ["127.0.0.1"], "password": "${PASSWORD}"`,
    );
    const warnings = parseConfigText(text, 'c.conf').warnings ?? [];
    expect(warnings.join('\n')).not.toContain(PASSWORD);
    expect(warnings).toEqual([
      "c.conf:5:46: limits.real.***: duplicate key '***' (also at line 5:25); only the last one counts",
      'c.conf:5:64: limits.real.***: 2 s is raised to runner.minRealSeconds (120 s)',
    ]);
  });
});

describe('readSecretFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'jobrunner-secret-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('returns the trimmed contents', () => {
    writeFileSync(join(dir, 'key'), '  s3cr3t-key-value\n');
    expect(readSecretFile(join(dir, 'key'), 'dispatch.secretKeyFile')).toBe('s3cr3t-key-value');
  });

  it('names the file, never the contents', () => {
    writeFileSync(join(dir, 'blank'), ' \n\t\n');
    mkdirSync(join(dir, 'sub'));
    expect(problemsOf(() => readSecretFile(join(dir, 'missing'), 'dispatch.secretKeyFile'))).toEqual([
      `${join(dir, 'missing')}: dispatch.secretKeyFile: cannot read the file: it does not exist`,
    ]);
    expect(problemsOf(() => readSecretFile(join(dir, 'blank'), 'status.adminTokenFile'))).toEqual([
      `${join(dir, 'blank')}: status.adminTokenFile: the file is empty; expected the secret`,
    ]);
    expect(problemsOf(() => readSecretFile(join(dir, 'sub'), 'status.adminTokenFile'))).toEqual([
      `${join(dir, 'sub')}: status.adminTokenFile: cannot read the file: it is a directory`,
    ]);
  });
});
