// The checks a daemon makes on a loaded config before it starts, in one place, so --check-config
// (Puppet's validate_cmd) refuses exactly what would keep jobrunner or jobchron from starting.
import { statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { readAdminToken } from '../config/admin-token.js';
import { ConfigError } from '../config/errors.js';
import { readSecretFile } from '../config/secret-file.js';
import type { JobrunnerConfig } from '../config/types.js';
import { createLogger } from '../observability/logger.js';
import { DispatchConfigError, createDispatcher } from '../runner/dispatch/index.js';

function message(error: unknown): string {
  if (error instanceof ConfigError || error instanceof DispatchConfigError) return error.message;
  throw error;
}

/**
 * A root-only token file read by someone else: the daemons read it as root before they switch
 * user (--user), so this process cannot judge it (e.g. scap's checks run as the service user).
 */
function rootOnly(path: string): boolean {
  try {
    return process.getuid?.() !== 0 && statSync(path).uid === 0;
  } catch {
    return false;
  }
}

export interface StartupReport {
  /** What would stop a daemon at start. */
  readonly problems: string[];
  /** What could not be checked from here. */
  readonly warnings: string[];
}

/** Problems that would stop a daemon at start (dispatcher, secret files, admin token). */
export function startupProblems(config: JobrunnerConfig): StartupReport {
  const problems: string[] = [];
  const warnings: string[] = [];
  if (config.backend !== 'kafka') {
    // Built as jobrunner builds it (template, URLs, secret key), then dropped unused.
    try {
      const quiet = createLogger({
        service: 'check-config',
        stream: new Writable({ write: (_chunk, _encoding, done) => done() }),
      });
      void createDispatcher(config, { logger: quiet }).close();
    } catch (error) {
      problems.push(message(error));
    }
  }
  // The special-runjobs dispatcher above has read it already.
  const keyRead = config.backend !== 'kafka' && config.dispatch.kind === 'special-runjobs';
  if (config.dispatch.secretKeyFile !== undefined && !keyRead) {
    try {
      readSecretFile(config.dispatch.secretKeyFile, 'dispatch.secretKeyFile');
    } catch (error) {
      problems.push(message(error));
    }
  }
  const tokenFile = config.status.enabled ? config.status.adminTokenFile : undefined;
  if (tokenFile !== undefined) {
    try {
      readAdminToken(tokenFile);
    } catch (error) {
      if (rootOnly(tokenFile)) {
        warnings.push(
          `${tokenFile}: status.adminTokenFile is readable by root only; not checked as uid ${process.getuid?.() ?? '?'}`,
        );
      } else problems.push(message(error));
    }
  }
  return { problems, warnings };
}
