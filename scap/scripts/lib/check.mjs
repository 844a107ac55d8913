// @ts-check
// The frame every deploy check runs in: settings, an optional switch to the service user, a time
// limit, and one clear closing line. scap shows a check's output when it fails and treats any
// non-zero exit as a failed stage (which offers the rollback).
//   exit 0  passed, or skipped (the reason is printed)
//   exit 1  failed (the reason is printed)
//   exit 2  the check itself is misconfigured (bad settings file, sudo not allowed, ...)
import { Buffer } from 'node:buffer';
import { userInfo } from 'node:os';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';
import { fileURLToPath } from 'node:url';
import { runProcess } from './process.mjs';
import { logToScap } from './scap-log.mjs';
import { loadSettings, SettingsError } from './settings.mjs';

/** The check found a problem with the deployment. */
export class CheckFailed extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'CheckFailed';
  }
}

/** The check does not apply to this host (masked units, no canary wiki). */
export class CheckSkipped extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'CheckSkipped';
  }
}

const SETTINGS_ARG = '--settings-json=';

/**
 * The command that runs `script` again as `user` with the same settings. scap passes check
 * scripts no arguments, so the only argument is ours; sudo resets the environment, so the
 * settings travel in it.
 * @param {import('./settings.mjs').Settings} settings
 * @param {string} user
 * @param {string} script
 * @returns {[string, string[]]}
 */
export function reexecCommand(settings, user, script) {
  const payload = Buffer.from(JSON.stringify(settings.raw)).toString('base64');
  return ['sudo', ['-n', '-u', user, '--', settings.node, script, `${SETTINGS_ARG}${payload}`]];
}

/** Applies settings handed over by reexecCommand(). */
function adoptHandedOverSettings() {
  const arg = process.argv.find((a) => a.startsWith(SETTINGS_ARG));
  if (arg === undefined) return false;
  /** @type {unknown} */
  const parsed = JSON.parse(Buffer.from(arg.slice(SETTINGS_ARG.length), 'base64').toString('utf8'));
  if (typeof parsed !== 'object' || parsed === null) throw new SettingsError('bad --settings-json argument');
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'string' && /^(JOBRUNNER|SCAP)_[A-Z0-9_]+$/.test(key)) process.env[key] = value;
  }
  return true;
}

/**
 * @typedef {object} CheckContext
 * @property {import('./settings.mjs').Settings} settings
 * @property {number} deadline  Date.now() value by which the check must have decided
 * @property {number} seconds  the time limit the deadline came from
 * @property {(line: string) => void} note  progress line on stdout (shown in `scap deploy-log`)
 */

/**
 * Runs one check and exits the process.
 * @param {string} name  shown on every line, e.g. "check-health"
 * @param {string} scriptUrl  import.meta.url of the check script
 * @param {number} defaultTimeoutSeconds  keep below the checks.yaml timeout so this message wins
 * @param {(ctx: CheckContext) => Promise<string>} body  returns the success message
 */
export async function runCheck(name, scriptUrl, defaultTimeoutSeconds, body) {
  const started = Date.now();
  const out = (/** @type {string} */ line) => process.stdout.write(`${name}: ${line}\n`);
  let code;
  try {
    const handedOver = adoptHandedOverSettings();
    const settings = loadSettings();
    if (settings.checkUser && settings.checkUser !== userInfo().username) {
      if (handedOver) throw new SettingsError(`still not ${settings.checkUser} after sudo`);
      const [command, args] = reexecCommand(settings, settings.checkUser, fileURLToPath(scriptUrl));
      const seconds = settings.timeoutSeconds ?? defaultTimeoutSeconds;
      const result = await runProcess(command, args, { timeoutMs: (seconds + 5) * 1000 });
      process.stdout.write(result.stdout);
      // The check always ends with a "<name>: ..." line; without one, sudo itself refused.
      if (result.spawnError !== undefined || !result.stdout.includes(`${name}: `)) {
        process.stdout.write(result.stderr);
        out(
          `ERROR: could not run as ${settings.checkUser} with 'sudo -n -u ${settings.checkUser}' ` +
            `(${result.spawnError ?? `exit status ${result.code}`}); see README "Deploying with scap3" for the sudo rule`,
        );
        process.exit(2);
      }
      // The sudo'ed run's parent is sudo, so the summary is passed on from here.
      const last = result.stdout
        .split('\n')
        .filter((line) => line.startsWith(`${name}: `))
        .pop();
      if (result.code === 0 && last !== undefined) logToScap(last);
      process.exit(result.code ?? 2);
    }
    const seconds = settings.timeoutSeconds ?? defaultTimeoutSeconds;
    const deadline = started + seconds * 1000;
    // A last resort if the body hangs past its own deadline handling.
    const guard = setTimeout(
      () => {
        out(`FAILED: no result within ${seconds} s`);
        process.exit(1);
      },
      seconds * 1000 + 3000,
    );
    const message = await body({ settings, deadline, seconds, note: (line) => out(line) });
    clearTimeout(guard);
    out(`OK: ${message}`);
    logToScap(`${name}: OK: ${message}`);
    code = 0;
  } catch (error) {
    if (error instanceof CheckSkipped) {
      out(`SKIPPED: ${error.message}`);
      logToScap(`${name}: SKIPPED: ${error.message}`);
      code = 0;
    } else if (error instanceof CheckFailed) {
      out(`FAILED: ${error.message}`);
      code = 1;
    } else if (error instanceof SettingsError) {
      out(`ERROR: ${error.message}`);
      code = 2;
    } else {
      out(`ERROR: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      code = 2;
    }
  }
  process.exit(code);
}

/**
 * Waits `ms`, but never past the deadline.
 * @param {number} ms
 * @param {number} deadline
 */
export function pause(ms, deadline) {
  const wait = Math.max(0, Math.min(ms, deadline - Date.now()));
  return new Promise((resolve) => setTimeout(resolve, wait));
}
