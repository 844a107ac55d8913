// @ts-check
// A passing check's one-line summary at INFO in the deploy log. scap logs a passing check's output
// at DEBUG only (shown by `scap deploy-log -v`), and a check cannot reach scap's logger. But
// `scap deploy-local` sends its log to the deploy host as JSON lines on its stdout (scap's
// JSONFormatter; the deploy host's ssh.JSONOutputHandler turns each `{...}` line back into a log
// record of that host). So the summary is written as one such line to the stdout of the
// deploy-local process that started this check. Outside scap (manual runs, tests) nothing happens.
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import process from 'node:process';

const INFO = 20;

/**
 * The PID of the `scap deploy-local` process this process was started by, if it was.
 * @param {number} pid
 */
function deployLocalParent(pid) {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return cmdline.includes('deploy-local') ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The JSON log line scap's JSONFormatter.make_record() reads back: name, levelno and msg.
 * @param {string} message
 */
export function scapLogLine(message) {
  const oneLine = message.replace(/\s*\n\s*/g, ' ').slice(0, 2000);
  return `${JSON.stringify({ name: 'deploy-local.checks', levelno: INFO, msg: oneLine, created: Date.now() / 1000 })}\n`;
}

/**
 * Logs `message` at INFO through the parent `scap deploy-local`; true if it was written.
 * One write() of a line shorter than PIPE_BUF, so it cannot interleave with scap's own lines.
 * @param {string} message
 * @param {number} [parent]
 */
export function logToScap(message, parent = process.ppid) {
  const pid = deployLocalParent(parent);
  if (pid === undefined) return false;
  let fd;
  try {
    fd = openSync(`/proc/${pid}/fd/1`, 'a');
    writeSync(fd, scapLogLine(message));
    return true;
  } catch {
    // A socket (not a pipe) or another user's process: the summary stays at DEBUG.
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
