// The chron's Lua scripts as typed calls, on a connection or inside a pipeline. Scripts are
// registered through defineLuaCommand: EVALSHA with an automatic EVAL fallback on NOSCRIPT, which
// ioredis also applies to commands queued in a pipeline (it re-sends the failed command once). A
// second flush between that EVAL and the re-sent EVALSHAs would still fail them, so callers retry
// NOSCRIPT failures a few more times themselves (a command that got NOSCRIPT never ran). The
// original never recovered within a pass (W25); see the NOSCRIPT integration test.
import type { ChainableCommander, Redis } from 'ioredis';
import { defineLuaCommand, luaCommandName } from '../redis/lua-scripts.js';

/** Script name → fixed number of keys, or undefined for scripts taking a variable key count. */
export const CHRON_SCRIPTS = {
  'chron-maintain-queue': 3,
  'chron-ready-hash': undefined,
  'chron-ready-sweep': undefined,
  'lease-acquire': 2,
  'lease-renew': 1,
  'lease-release': 1,
  'lease-heartbeat': 1,
} as const;

export type ChronScript = keyof typeof CHRON_SCRIPTS;

type ScriptMethod = (...args: (string | number)[]) => unknown;

/** Registers every chron script on the connection (idempotent). */
export function registerChronScripts(redis: Redis): void {
  for (const [name, keys] of Object.entries(CHRON_SCRIPTS)) defineLuaCommand(redis, name, keys);
}

function method(target: Redis | ChainableCommander, name: ChronScript): ScriptMethod {
  const fn = (target as unknown as Record<string, unknown>)[luaCommandName(name)];
  if (typeof fn !== 'function') throw new Error(`Lua script ${name} is not registered on this connection`);
  return (fn as ScriptMethod).bind(target);
}

function scriptArgs(name: ChronScript, keys: readonly string[], args: readonly (string | number)[]) {
  const fixed = CHRON_SCRIPTS[name];
  if (fixed !== undefined && fixed !== keys.length) {
    throw new Error(`Lua script ${name} takes ${fixed} keys, got ${keys.length}`);
  }
  return fixed === undefined ? [keys.length, ...keys, ...args] : [...keys, ...args];
}

/** Attempts per script call when Redis keeps answering NOSCRIPT (script cache flushed again). */
export const NOSCRIPT_ATTEMPTS = 3;

export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/** Runs a script on the connection and resolves with its reply. */
export async function runScript(
  redis: Redis,
  name: ChronScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): Promise<unknown> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await (method(redis, name)(...scriptArgs(name, keys, args)) as Promise<unknown>);
    } catch (error) {
      if (!isNoScript(error) || attempt >= NOSCRIPT_ATTEMPTS) throw error;
    }
  }
}

/** Queues a script call in a pipeline (its reply comes back from pipeline.exec()). */
export function queueScript(
  pipeline: ChainableCommander,
  name: ChronScript,
  keys: readonly string[],
  args: readonly (string | number)[],
): void {
  method(pipeline, name)(...scriptArgs(name, keys, args));
}
