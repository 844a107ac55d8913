// The checks a daemon makes on a loaded config before it starts, in one place, so --check-config
// (Puppet's validate_cmd) refuses exactly what would keep jobrunner or jobchron from starting.
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

/** Problems that would stop a daemon at start (dispatcher, secret files, admin token); [] if none. */
export function startupProblems(config: JobrunnerConfig): string[] {
  const problems: string[] = [];
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
  if (config.status.enabled && config.status.adminTokenFile !== undefined) {
    try {
      readAdminToken(config.status.adminTokenFile);
    } catch (error) {
      problems.push(message(error));
    }
  }
  return problems;
}
