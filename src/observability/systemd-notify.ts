// sd_notify for the Type=notify units (templates/daemon.service.erb). Node cannot send AF_UNIX
// datagrams, so this runs systemd-notify(1). Since systemd 246 it waits until the manager has
// processed the message (a barrier), so the helper exiting early cannot lose it; because the
// helper, not the daemon, sends it, the units set NotifyAccess=all.
import { execFile } from 'node:child_process';

/** The helper failed or timed out; systemd will then time out the start (TimeoutStartSec). */
export class SystemdNotifyError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SystemdNotifyError';
  }
}

const HELPER = 'systemd-notify';
/** Longer than the helper's own 5 s barrier wait. */
const TIMEOUT_MS = 10_000;

function sendNotify(args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  // Not started by systemd (tests, a shell, --check-config): nothing to tell.
  if (!env.NOTIFY_SOCKET) return Promise.resolve();
  return new Promise((resolve, reject) => {
    execFile(HELPER, [...args], { env, timeout: TIMEOUT_MS }, (error, _stdout, stderr) => {
      if (!error) {
        resolve();
        return;
      }
      const detail = String(stderr).trim() || error.message;
      reject(new SystemdNotifyError(`${HELPER} ${args.join(' ')} failed: ${detail}`, { cause: error }));
    });
  });
}

/**
 * Tells systemd the daemon is ready (READY=1). Call it once the config is loaded and the signal
 * handlers (SIGTERM, SIGHUP, SIGUSR1) are installed: systemd sends reloads only after this.
 */
export function notifyReady(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return sendNotify(['--ready'], env);
}

/** Tells systemd the daemon is shutting down (STOPPING=1), e.g. at the start of a drain. */
export function notifyStopping(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return sendNotify(['STOPPING=1'], env);
}

/** Sets the one-line status shown by `systemctl status` (e.g. "draining 3 jobs"). */
export function notifyStatus(text: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return sendNotify([`--status=${text.replace(/\n/g, ' ')}`], env);
}
