// Keeping the admin token out of the job children's reach (as Puppet's units run the daemons):
// the built jobrunner, started as root with --user/--group, reads the root-only token file, then
// runs as that user. A dispatched job child (same user) tries to read the token file and the
// daemon's /proc/<pid>/environ (which needs the right to read its memory); both are refused, while
// the status server still takes the token. The daemon starts with only the capabilities the unit
// leaves it (setpriv). Needs root, a real redis-server and the built dist/.
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runJobqueue } from '../../src/cli/jobqueue/run.js';
import { freePort } from '../../src/farm/free-port.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { startDaemon, type Daemon } from '../support/daemon.js';
import { requireFreshBuild } from '../support/fresh-build.js';
import { until } from '../support/until.js';

const CLI = resolve('dist/cli/jobrunner.js');
const TOKEN = 'privileges-test-token-3b9e7f0a2c';
const USER = 'nobody';
const GROUP = 'nogroup';

let redis: RedisServerHandle;
let dir: string;
let daemon: Daemon | undefined;

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

function uidOf(name: string): number {
  const entry = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .map((line) => line.split(':'))
    .find((fields) => fields[0] === name);
  if (!entry) throw new Error(`no user ${name} in /etc/passwd: this test needs Debian's ${name}/${GROUP}`);
  return Number(entry[2]);
}

beforeAll(async () => {
  if (process.getuid?.() !== 0) {
    throw new Error(
      `this test starts the daemon as root and needs root (running as uid ${process.getuid?.()})`,
    );
  }
  requireFreshBuild([CLI]);
  redis = await startRedisServer();
  dir = mkdtempSync(join(tmpdir(), 'jr19-privileges-'));
  chmodSync(dir, 0o755);
  mkdirSync(join(dir, 'out'), { mode: 0o777 });
  chmodSync(join(dir, 'out'), 0o777);
  writeFileSync(join(dir, 'admin.token'), `${TOKEN}\n`, { mode: 0o400 });
  // The job child: what can it read? Its parent is the daemon (argv mode, no shell in between).
  writeFileSync(
    join(dir, 'probe.sh'),
    `#!/bin/sh
{
  echo "uid=$(id -u)"
  if cat "$TOKEN_FILE" >/dev/null 2>&1; then echo token=readable; else echo token=denied; fi
  if cat "/proc/$PPID/environ" >/dev/null 2>&1; then echo environ=readable; else echo environ=denied; fi
} > "$OUT_DIR/.partial-$$" && mv "$OUT_DIR/.partial-$$" "$OUT_DIR/probe-$$.txt"
echo '{"jobs":[],"reached":"none-ready","backoffs":{},"elapsed":1}'
`,
    { mode: 0o755 },
  );
}, 60_000);

afterAll(async () => {
  if (daemon && daemon.child.exitCode === null) {
    daemon.child.kill('SIGTERM');
    await daemon.exited;
  }
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('jobrunner --user/--group (started as root)', () => {
  it('keeps the admin token and its own memory out of its job children, and still serves admin requests', async () => {
    const port = await freePort();
    const configFile = join(dir, 'jobrunner.conf');
    writeFileSync(
      configFile,
      JSON.stringify({
        groups: { basic: { runners: 1, include: ['*'] } },
        redis: { aggregators: [redis.address], queues: [redis.address] },
        dispatcher: `TOKEN_FILE=${join(dir, 'admin.token')} OUT_DIR=${join(dir, 'out')} ${join(dir, 'probe.sh')} %(db)x %(type)x`,
        status: {
          address: '127.0.0.1',
          runnerPort: port,
          chronPort: 0,
          adminTokenFile: join(dir, 'admin.token'),
        },
      }),
      { mode: 0o644 },
    );
    const stdin = new PassThrough();
    stdin.end();
    const err = new Capture();
    const pushed = await runJobqueue(['-c', configFile, 'push', '--wiki', 'wiki1', '--type', 'probe'], {
      stdin,
      stdout: new Capture(),
      stderr: err,
    });
    expect(pushed, err.text).toBe(0);

    // With what the unit leaves root (CapabilityBoundingSet=CAP_SETUID CAP_SETGID, no_new_privs).
    daemon = startDaemon(CLI, configFile, {
      args: [`--user=${USER}`, `--group=${GROUP}`],
      via: ['setpriv', '--bounding-set=-all,+setuid,+setgid', '--inh-caps=-all', '--no-new-privs', '--'],
    });
    const outputs = () => readdirSync(join(dir, 'out')).filter((name) => name.startsWith('probe-'));
    await until(
      () => outputs().length > 0 || daemon?.child.exitCode !== null,
      'a dispatched job child',
      60_000,
    );
    expect(outputs(), JSON.stringify(daemon.logs.slice(-5))).not.toEqual([]);
    const probe = readFileSync(join(dir, 'out', outputs()[0] as string), 'utf8');
    expect(probe).toBe(`uid=${uidOf(USER)}\ntoken=denied\nenviron=denied\n`);

    const status = readFileSync(`/proc/${daemon.child.pid}/status`, 'utf8');
    expect(/^Uid:\s+(\d+)/m.exec(status)?.[1]).toBe(String(uidOf(USER)));
    const admin = (token: string) =>
      fetch(`http://127.0.0.1:${port}/api/admin/retry-abandoned`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ wiki: 'wiki1', type: 'probe' }),
      });
    expect((await admin('not-the-token-at-all-0123')).status).toBe(401);
    expect((await admin(TOKEN)).status).toBe(200);
  }, 90_000);

  it('refuses a --user without --group', async () => {
    const configFile = join(dir, 'jobrunner.conf');
    const alone = startDaemon(CLI, configFile, { args: [`--user=${USER}`] });
    expect((await alone.exited).code).toBe(1);
    expect(JSON.stringify(alone.logs)).toContain('--user and --group go together');
  });
});
