// @ts-check
// Settings of the deploy checks and the restart hook. Built-in defaults, then the host's settings
// file (KEY=VALUE lines, e.g. written by Puppet), then the environment (manual runs, tests). scap
// runs `type: script` checks without arguments, so this is the only way to configure them.
import { readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

export const DEFAULT_SETTINGS_FILE = '/etc/default/jobrunner-deploy-checks';

/** Every setting a settings file or the environment may give, with its meaning. */
export const SETTING_NAMES = Object.freeze({
  JOBRUNNER_CONFIG_FILE: 'the live jobrunner.conf (default /etc/jobrunner/jobrunner.conf)',
  JOBRUNNER_CODE_DIR:
    'bundle to check (default the live revision $SCAP_CURRENT_REV_DIR, else $SCAP_REV_PATH, else the bundle holding these scripts)',
  JOBRUNNER_NODE: 'node binary that runs the daemons (default /usr/bin/node if present, else this node)',
  JOBRUNNER_CHECK_USER: 'run as this user through `sudo -n -u` (the service user can read the config)',
  JOBRUNNER_CANARY_WIKI: 'wiki ID the "takes work" check pushes null jobs to (unset: that check is skipped)',
  JOBRUNNER_CANARY_JOBS: 'null jobs in the first push, doubled on each further one up to 100 (default 3)',
  JOBRUNNER_CHECK_TIMEOUT: 'seconds a check may take before it fails (default per check)',
  JOBRUNNER_ERROR_WINDOW: 'seconds the error-rate checks watch the failure counters (default 30)',
  JOBRUNNER_ERROR_MIN_FAILURES: 'failures in the window below which the rate is not judged (default 5)',
  JOBRUNNER_ERROR_MAX_RATIO: 'failure ratio that always passes (default 0.1)',
  JOBRUNNER_ERROR_FACTOR: 'allowed growth of the failure ratio over the pre-deploy baseline (default 2)',
  JOBRUNNER_CHECK_STATE_DIR:
    'where the error-rate baseline is kept between stages (default a private dir in /tmp)',
  JOBRUNNER_SYSTEMCTL: 'systemctl binary (default systemctl)',
  JOBRUNNER_SYSTEMCTL_ROOT: 'passed as systemctl --root (for inspecting an image; default none)',
  JOBRUNNER_SUPERVISOR: 'restart hook: systemd (default) or pidfile (hosts without systemd, rehearsals)',
  JOBRUNNER_RUN_DIR: 'pidfile supervisor: directory of the PID and log files',
  JOBRUNNER_STOP_TIMEOUT: 'pidfile supervisor: seconds to wait for a drained stop (default 300)',
});

/** A setting that cannot be used, named with where it came from. */
export class SettingsError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'SettingsError';
  }
}

/**
 * @typedef {object} Settings
 * @property {string} configFile
 * @property {string} codeDir
 * @property {string} node
 * @property {string | undefined} checkUser
 * @property {string | undefined} canaryWiki
 * @property {number} canaryJobs
 * @property {number | undefined} timeoutSeconds
 * @property {number} errorWindowSeconds
 * @property {number} errorMinFailures
 * @property {number} errorMaxRatio
 * @property {number} errorFactor
 * @property {string} stateDir
 * @property {string} systemctl
 * @property {string | undefined} systemctlRoot
 * @property {'systemd' | 'pidfile'} supervisor
 * @property {string | undefined} runDir
 * @property {number} stopTimeoutSeconds
 * @property {Record<string, string>} raw  every JOBRUNNER_* and SCAP_* value in effect (for re-exec)
 */

/**
 * Parses a settings file: `KEY=VALUE` lines, `#` comments, values optionally in single or double
 * quotes. Unknown keys are errors so a typo does not silently fall back to a default.
 * @param {string} text
 * @param {string} file  for messages
 * @returns {Record<string, string>}
 */
export function parseSettingsText(text, file) {
  /** @type {Record<string, string>} */
  const values = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const match = /^(?:export\s+)?([A-Z_][A-Z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!match) throw new SettingsError(`${file}:${i + 1}: expected KEY=VALUE, got: ${line}`);
    const key = match[1] ?? '';
    let value = match[2] ?? '';
    if (!Object.prototype.hasOwnProperty.call(SETTING_NAMES, key)) {
      throw new SettingsError(
        `${file}:${i + 1}: unknown setting ${key} (known: ${Object.keys(SETTING_NAMES).join(', ')})`,
      );
    }
    const quoted = /^(["'])(.*)\1$/.exec(value);
    if (quoted) value = quoted[2] ?? '';
    else if (/["'\s]/.test(value)) {
      throw new SettingsError(`${file}:${i + 1}: quote the value of ${key} (it has spaces or quotes)`);
    }
    values[key] = value;
  }
  return values;
}

/**
 * @param {string} key
 * @param {string | undefined} text
 * @param {number} fallback
 * @param {{ integer?: boolean; max?: number }} [opts]
 */
function positiveNumber(key, text, fallback, opts = {}) {
  if (text === undefined || text === '') return fallback;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || (opts.integer && !Number.isInteger(value))) {
    throw new SettingsError(`${key}=${text}: expected a positive ${opts.integer ? 'integer' : 'number'}`);
  }
  if (opts.max !== undefined && value > opts.max)
    throw new SettingsError(`${key}=${text}: at most ${opts.max}`);
  return value;
}

/** The directory holding the bundle these scripts came with (scap/scripts/lib → bundle root). */
export function bundleDir() {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

/** @param {string} path */
function readableFile(path) {
  try {
    readFileSync(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Settings in effect: defaults < settings file < environment.
 *
 * The code checked is the revision the `current` link points to (SCAP_CURRENT_REV_DIR), i.e. what
 * the daemons run after this stage: the new revision after promote, and during
 * `scap deploy --rollback` the revision rolled back to. SCAP_REV_PATH always names the revision
 * being deployed, so in a rollback it is the bad one being left.
 * @param {NodeJS.ProcessEnv} [env]
 * @returns {Settings}
 */
export function loadSettings(env = process.env) {
  const file = env.JOBRUNNER_DEPLOY_CHECKS_ENV || DEFAULT_SETTINGS_FILE;
  /** @type {Record<string, string>} */
  let fromFile = {};
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    const code = /** @type {NodeJS.ErrnoException} */ (error).code;
    // The default file is optional; one named explicitly must exist.
    if (code !== 'ENOENT' || env.JOBRUNNER_DEPLOY_CHECKS_ENV) {
      throw new SettingsError(
        `cannot read settings file ${file}: ${error instanceof Error ? error.message : error}`,
      );
    }
  }
  if (text !== undefined) fromFile = parseSettingsText(text, file);

  /** @type {Record<string, string>} */
  const raw = { ...fromFile };
  for (const [key, value] of Object.entries(env)) {
    if (value === undefined) continue;
    if (key.startsWith('SCAP_') || Object.prototype.hasOwnProperty.call(SETTING_NAMES, key)) raw[key] = value;
  }
  const get = (/** @type {string} */ key) => (raw[key] === '' ? undefined : raw[key]);

  const supervisor = get('JOBRUNNER_SUPERVISOR') ?? 'systemd';
  if (supervisor !== 'systemd' && supervisor !== 'pidfile') {
    throw new SettingsError(`JOBRUNNER_SUPERVISOR=${supervisor}: expected systemd or pidfile`);
  }
  const uid = typeof process.getuid === 'function' ? process.getuid() : userInfo().uid;
  return {
    configFile: get('JOBRUNNER_CONFIG_FILE') ?? '/etc/jobrunner/jobrunner.conf',
    codeDir: resolve(
      get('JOBRUNNER_CODE_DIR') ?? get('SCAP_CURRENT_REV_DIR') ?? get('SCAP_REV_PATH') ?? bundleDir(),
    ),
    node: get('JOBRUNNER_NODE') ?? (readableFile('/usr/bin/node') ? '/usr/bin/node' : process.execPath),
    checkUser: get('JOBRUNNER_CHECK_USER'),
    canaryWiki: get('JOBRUNNER_CANARY_WIKI'),
    canaryJobs: positiveNumber('JOBRUNNER_CANARY_JOBS', get('JOBRUNNER_CANARY_JOBS'), 3, {
      integer: true,
      max: 100,
    }),
    timeoutSeconds: get('JOBRUNNER_CHECK_TIMEOUT')
      ? positiveNumber('JOBRUNNER_CHECK_TIMEOUT', get('JOBRUNNER_CHECK_TIMEOUT'), 1)
      : undefined,
    errorWindowSeconds: positiveNumber('JOBRUNNER_ERROR_WINDOW', get('JOBRUNNER_ERROR_WINDOW'), 30),
    errorMinFailures: positiveNumber('JOBRUNNER_ERROR_MIN_FAILURES', get('JOBRUNNER_ERROR_MIN_FAILURES'), 5, {
      integer: true,
    }),
    errorMaxRatio: positiveNumber('JOBRUNNER_ERROR_MAX_RATIO', get('JOBRUNNER_ERROR_MAX_RATIO'), 0.1, {
      max: 1,
    }),
    errorFactor: positiveNumber('JOBRUNNER_ERROR_FACTOR', get('JOBRUNNER_ERROR_FACTOR'), 2),
    stateDir: get('JOBRUNNER_CHECK_STATE_DIR') ?? join(tmpdir(), `jobrunner-deploy-checks-${uid}`),
    systemctl: get('JOBRUNNER_SYSTEMCTL') ?? 'systemctl',
    systemctlRoot: get('JOBRUNNER_SYSTEMCTL_ROOT'),
    supervisor,
    runDir: get('JOBRUNNER_RUN_DIR'),
    stopTimeoutSeconds: positiveNumber('JOBRUNNER_STOP_TIMEOUT', get('JOBRUNNER_STOP_TIMEOUT'), 300),
    raw,
  };
}
