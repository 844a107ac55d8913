// @ts-check
// Runs a command to completion with a time limit, collecting its output.
import { spawn } from 'node:child_process';
import process from 'node:process';
import { clearTimeout, setTimeout } from 'node:timers';

/**
 * @typedef {object} ProcessResult
 * @property {number | null} code
 * @property {NodeJS.Signals | null} signal
 * @property {string} stdout
 * @property {string} stderr
 * @property {boolean} timedOut
 * @property {string | undefined} spawnError  set when the command could not be started at all
 */

/**
 * @param {string} command
 * @param {readonly string[]} args
 * @param {{ timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string }} opts
 * @returns {Promise<ProcessResult>}
 */
export function runProcess(command, args, opts) {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    let settled = false;
    child.stdout.on('data', (chunk) => (stdout += String(chunk)));
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, opts.timeoutMs);
    /** @param {ProcessResult} result */
    const finish = (result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    child.on('error', (error) =>
      finish({ code: null, signal: null, stdout, stderr, timedOut, spawnError: error.message }),
    );
    child.on('close', (code, signal) =>
      finish({ code, signal, stdout, stderr, timedOut, spawnError: undefined }),
    );
  });
}

/**
 * One line saying how a finished command ended, for failure messages.
 * @param {ProcessResult} result
 * @param {number} timeoutMs
 */
export function describeExit(result, timeoutMs) {
  if (result.spawnError !== undefined) return `could not start: ${result.spawnError}`;
  if (result.timedOut) return `no answer within ${Math.round(timeoutMs / 1000)} s (killed)`;
  if (result.signal) return `killed by ${result.signal}`;
  return `exit status ${result.code}`;
}

/**
 * The last `max` characters of a command's output, indented, for failure messages.
 * @param {string} text
 * @param {number} [max]
 */
export function tail(text, max = 2000) {
  const trimmed = text.trim();
  const cut = trimmed.length > max ? `…${trimmed.slice(-max)}` : trimmed;
  return cut === '' ? '  (no output)' : cut.replace(/^/gm, '  ');
}
