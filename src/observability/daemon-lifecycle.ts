// Pieces of daemon start-up shared by jobrunner and jobchron: the optional log file with SIGUSR1
// reopen (logrotate), and telling systemd we are ready (Type=notify units).
import type { DaemonLogger } from './logger.js';
import { notifyReady, notifyStopping } from './systemd-notify.js';

/** Applies logging.file and installs the SIGUSR1 handler (also keeps Node's debugger off SIGUSR1). */
export function setUpLogFile(logger: DaemonLogger, file: string | undefined): void {
  logger.setLogFile(file);
  if (process.listenerCount('SIGUSR1') === 0) {
    process.on('SIGUSR1', () => {
      logger.reopenLogFile();
      logger.info('Log file reopened (SIGUSR1)');
    });
  }
}

/** Call once signal handlers are installed and the daemon is running; never fails the daemon. */
export async function announceReady(logger: DaemonLogger): Promise<void> {
  try {
    await notifyReady();
  } catch (error) {
    logger.error('Could not notify systemd of readiness', {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}

export async function announceStopping(logger: DaemonLogger): Promise<void> {
  try {
    await notifyStopping();
  } catch (error) {
    logger.warn('Could not notify systemd of stopping', {
      error: error instanceof Error ? error.message : String(error),
    });
  }
}
