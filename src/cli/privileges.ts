// Started as root with --user/--group (systemd `ExecStart=!…`): the daemon reads what only root may
// read (the admin token) and then becomes the service user for good. Job children then run as that
// user but cannot read the token file, and since the daemon changed its uid the kernel marks it
// non-dumpable, so they cannot read its memory or /proc/<pid>/environ either.
import { preloadAdminToken } from '../config/admin-token.js';
import type { JobrunnerConfig } from '../config/types.js';

/** A --user/--group that cannot be applied; the daemon does not start. */
export class PrivilegeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrivilegeError';
  }
}

/**
 * Reads the root-only secrets of `config`, then switches to `runAs` (supplementary groups, group,
 * user: in that order, while still allowed to).
 * @throws PrivilegeError when not started as root or the user or group does not exist
 * @throws ConfigError when the admin token cannot be read or is weak
 */
export function dropPrivileges(config: JobrunnerConfig, runAs: { user: string; group: string }): void {
  if (process.getuid?.() !== 0) {
    throw new PrivilegeError(
      `--user=${runAs.user} needs the daemon to start as root (it runs as uid ${process.getuid?.() ?? '?'}); ` +
        'without --user/--group it keeps the user it was started as',
    );
  }
  if (config.status.enabled && config.status.adminTokenFile !== undefined) {
    preloadAdminToken(config.status.adminTokenFile);
  }
  try {
    // The user's groups from /etc/group, as systemd's User= sets them (missing from @types/node).
    (process as NodeJS.Process & { initgroups?: (user: string, group: string) => void }).initgroups?.(
      runAs.user,
      runAs.group,
    );
    process.setgid?.(runAs.group);
    process.setuid?.(runAs.user);
  } catch (error) {
    throw new PrivilegeError(
      `cannot run as user ${runAs.user}, group ${runAs.group}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  if (process.getuid?.() === 0 || process.geteuid?.() === 0) {
    throw new PrivilegeError(`--user=${runAs.user} left the daemon running as root; refusing to go on`);
  }
}
