#!/usr/bin/env node
// @ts-check
// Restart hook: restarts jobrunner then jobchron so they run the promoted code, with drain, and
// skips masked units (passive datacenter). scap itself restarts the services inside promote
// (service_name in scap.cfg); this is the same step for a host by hand, for `scap deploy` setups
// without service_name, and for rehearsals on machines without systemd.
//
//   systemd (default)  `systemctl restart <unit>`: systemd sends SIGTERM to the daemon only
//                      (KillMode=mixed), the runner lets running jobs finish (drain), exits, and
//                      the unit starts again; the command returns once it is ready (Type=notify).
//                      Runs systemctl through `sudo -n` unless already root.
//   pidfile            JOBRUNNER_RUN_DIR/<daemon>.pid: SIGTERM, wait up to JOBRUNNER_STOP_TIMEOUT
//                      for the drained exit, start `node <code>/dist/cli/<daemon>.js` detached with
//                      output appended to JOBRUNNER_RUN_DIR/<daemon>.log. The code directory is
//                      $SCAP_FINAL_PATH (the `current` link) or JOBRUNNER_CODE_DIR.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeExit, runProcess, tail } from './lib/process.mjs';
import { loadSettings, SettingsError } from './lib/settings.mjs';
import { DAEMONS, isMasked, unitFileState, unitName } from './lib/units.mjs';

/** @param {string} line */
const say = (line) => process.stdout.write(`restart-services: ${line}\n`);

class RestartFailed extends Error {}

/**
 * @param {import('./lib/settings.mjs').Settings} settings
 * @param {import('./lib/units.mjs').Daemon} daemon
 */
async function restartWithSystemd(settings, daemon) {
  const unit = unitName(daemon);
  const state = await unitFileState(settings, daemon);
  if (isMasked(state)) return `${unit} is masked (passive datacenter): skipped`;
  if (state === 'not-found') return `${unit} is not installed: skipped`;
  if (state === 'no-systemctl')
    throw new RestartFailed(
      `${settings.systemctl} not found (use JOBRUNNER_SUPERVISOR=pidfile without systemd)`,
    );
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  const [command, prefix] = root ? [settings.systemctl, []] : ['sudo', ['-n', settings.systemctl]];
  // systemd bounds the stop with TimeoutStopSec; this only guards against a hung systemctl.
  const timeoutMs = 30 * 60 * 1000;
  const restart = await runProcess(command, [...prefix, 'restart', unit], { timeoutMs });
  if (restart.code !== 0) {
    throw new RestartFailed(
      `systemctl restart ${unit} failed (${describeExit(restart, timeoutMs)}):\n${tail(restart.stderr + restart.stdout)}` +
        `\n  see: journalctl -u ${unit}`,
    );
  }
  const active = await runProcess(settings.systemctl, ['is-active', unit], { timeoutMs: 15_000 });
  if (active.stdout.trim() !== 'active') {
    throw new RestartFailed(
      `${unit} is ${active.stdout.trim() || 'not active'} after the restart; see journalctl -u ${unit}`,
    );
  }
  return `${unit} restarted`;
}

/**
 * Running (not exited; a zombie waiting for a parent that never reaps it counts as exited).
 * @param {number} pid
 */
function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return /** @type {NodeJS.ErrnoException} */ (error).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** @param {string} file */
function readPid(file) {
  if (!existsSync(file)) return undefined;
  const pid = Number(readFileSync(file, 'utf8').trim());
  return Number.isInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * @param {import('./lib/settings.mjs').Settings} settings
 * @param {import('./lib/units.mjs').Daemon} daemon
 */
async function restartWithPidFile(settings, daemon) {
  const runDir = settings.runDir;
  if (!runDir) throw new SettingsError('JOBRUNNER_SUPERVISOR=pidfile needs JOBRUNNER_RUN_DIR');
  mkdirSync(runDir, { recursive: true });
  const codeDir = resolve(
    settings.raw.JOBRUNNER_CODE_DIR || settings.raw.SCAP_FINAL_PATH || settings.codeDir,
  );
  const script = join(codeDir, 'dist', 'cli', `${daemon}.js`);
  if (!existsSync(script)) throw new RestartFailed(`${script} is missing: nothing to start`);
  const pidFile = join(runDir, `${daemon}.pid`);

  let stopped = '';
  const old = readPid(pidFile);
  if (old !== undefined && alive(old)) {
    const begin = Date.now();
    process.kill(old, 'SIGTERM');
    while (alive(old) && Date.now() - begin < settings.stopTimeoutSeconds * 1000) await sleep(100);
    if (alive(old)) {
      process.kill(old, 'SIGKILL');
      stopped = `; PID ${old} did not stop within ${settings.stopTimeoutSeconds} s and was killed`;
    } else {
      stopped = `; PID ${old} drained and stopped in ${((Date.now() - begin) / 1000).toFixed(1)} s`;
    }
  }

  const log = openSync(join(runDir, `${daemon}.log`), 'a');
  const child = spawn(settings.node, [script, `--config-file=${settings.configFile}`], {
    cwd: codeDir,
    detached: true,
    stdio: ['ignore', log, log],
  });
  closeSync(log);
  const pid = await new Promise((resolvePid, reject) => {
    child.once('spawn', () => resolvePid(child.pid));
    child.once('error', reject);
  });
  child.unref();
  writeFileSync(pidFile, `${pid}\n`);
  // A daemon that dies at once (bad config, missing module) is reported here, not by the checks.
  await sleep(1000);
  if (!alive(Number(pid))) {
    const text = readFileSync(join(runDir, `${daemon}.log`), 'utf8');
    throw new RestartFailed(`${daemon} (PID ${pid}) exited right after start:\n${tail(text, 1500)}`);
  }
  return `${daemon} started as PID ${pid} from ${codeDir}${stopped}`;
}

let code = 0;
try {
  const settings = loadSettings();
  for (const daemon of DAEMONS) {
    const done =
      settings.supervisor === 'pidfile'
        ? await restartWithPidFile(settings, daemon)
        : await restartWithSystemd(settings, daemon);
    say(done);
  }
} catch (error) {
  if (error instanceof RestartFailed) {
    say(`FAILED: ${error.message}`);
    code = 1;
  } else {
    say(`ERROR: ${error instanceof Error ? error.message : String(error)}`);
    code = 2;
  }
}
process.exit(code);
