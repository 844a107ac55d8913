// Chooses and builds the dispatcher for a validated config. Throws DispatchConfigError (or the
// config module's ConfigError for an unreadable secret file) when it can never work, so the
// daemon refuses to start instead of failing every dispatch.
import type { JobrunnerConfig } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import { CommandDispatcher } from './command-dispatcher.js';
import { HttpDispatcher, urlTemplateOf } from './http-dispatcher.js';
import { createMasker } from './masking.js';
import { DispatchConfigError } from './placeholders.js';
import { SpecialRunJobsDispatcher, readSecretKeyFile } from './special-runjobs-dispatcher.js';
import type { Dispatcher } from './types.js';

export type {
  DispatchRequest,
  DispatchResult,
  DispatchOutcome,
  DispatchErrorKind,
  Dispatcher,
} from './types.js';
export { DispatchConfigError } from './placeholders.js';

/** True when a command template is just `curl … <url>` (the original HTTP-mode dispatcher). */
function isCurlCommand(template: string): boolean {
  try {
    urlTemplateOf(template);
    return !/^https?:\/\//i.test(template.trim());
  } catch {
    return false;
  }
}

export function createDispatcher(
  config: JobrunnerConfig,
  deps: { logger: Logger; env?: NodeJS.ProcessEnv },
): Dispatcher {
  const { dispatch } = config;
  const logger = deps.logger.child({ component: 'dispatch' });
  switch (dispatch.kind) {
    case 'command': {
      const mask = createMasker([config.redis.password]);
      // The original production HTTP form `curl -XPOST -s -a '<url>'`: POST to the URL ourselves,
      // so HTTP status, timeouts and bodies are checked (W4, W8) and no curl process is needed.
      if (isCurlCommand(dispatch.template)) {
        logger.info('dispatcher is a curl command: POSTing to its URL directly');
        return new HttpDispatcher({
          template: dispatch.template,
          connectTimeoutMs: dispatch.connectTimeoutMs,
          logger,
          mask,
        });
      }
      return new CommandDispatcher({
        template: dispatch.template,
        killGraceSeconds: config.runner.killGraceSeconds,
        env: deps.env ?? process.env,
        logger,
        mask,
      });
    }
    case 'http':
      return new HttpDispatcher({
        template: dispatch.template,
        connectTimeoutMs: dispatch.connectTimeoutMs,
        logger,
        mask: createMasker([config.redis.password]),
      });
    case 'special-runjobs': {
      const secretKey = readSecretKeyFile(dispatch.secretKeyFile);
      return new SpecialRunJobsDispatcher({
        baseUrls: dispatch.baseUrls,
        secretKey,
        connectTimeoutMs: dispatch.connectTimeoutMs,
        logger,
        mask: createMasker([secretKey, config.redis.password]),
      });
    }
    default:
      throw new DispatchConfigError(
        `dispatch.kind ${JSON.stringify(dispatch.kind as string)} is not supported`,
      );
  }
}
