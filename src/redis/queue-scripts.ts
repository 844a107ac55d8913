// The queue layer's Lua scripts (src/redis/lua/*.lua) as typed calls on a connection or in a
// pipeline. Registration goes through defineLuaCommand, so a flushed script cache recovers by
// itself (EVALSHA, then EVAL on NOSCRIPT).
import type { ChainableCommander, Redis } from 'ioredis';
import { defineLuaCommand, luaCommandName } from './lua-scripts.js';

/** Script name → fixed key count, or undefined when the caller passes the key count. */
const SCRIPTS = {
  'push-jobs': 6,
  'register-root-jobs': undefined,
  'discover-ready': 1,
  'head-job-timestamp': 2,
  'queue-counts': undefined,
  'retry-abandoned': 5,
  'delete-job': 8,
  'dispatch-lease': 1,
} as const;

export type QueueScript = keyof typeof SCRIPTS;
export type ScriptArg = string | number | Buffer;

type ScriptMethod = (...args: ScriptArg[]) => unknown;

export function registerQueueScripts(redis: Redis): void {
  for (const [name, keys] of Object.entries(SCRIPTS)) defineLuaCommand(redis, name, keys);
}

function method(target: Redis | ChainableCommander, name: QueueScript, buffers: boolean): ScriptMethod {
  const fn = (target as unknown as Record<string, unknown>)[luaCommandName(name) + (buffers ? 'Buffer' : '')];
  if (typeof fn !== 'function') throw new Error(`Lua script ${name} is not registered on this connection`);
  return (fn as ScriptMethod).bind(target);
}

function scriptArgs(name: QueueScript, keys: readonly string[], args: readonly ScriptArg[]): ScriptArg[] {
  const fixed = SCRIPTS[name];
  if (fixed !== undefined && fixed !== keys.length) {
    throw new Error(`Lua script ${name} takes ${fixed} keys, got ${keys.length}`);
  }
  return fixed === undefined ? [keys.length, ...keys, ...args] : [...keys, ...args];
}

export interface ScriptCallOptions {
  /** Bulk replies as Buffers (for binary blobs). */
  readonly buffers?: boolean;
}

/** Runs a script and resolves with its raw reply. */
export function runQueueScript(
  redis: Redis,
  name: QueueScript,
  keys: readonly string[],
  args: readonly ScriptArg[],
  options: ScriptCallOptions = {},
): Promise<unknown> {
  registerQueueScripts(redis);
  return method(redis, name, options.buffers ?? false)(...scriptArgs(name, keys, args)) as Promise<unknown>;
}

/** Queues a script call in a pipeline created from a connection the scripts are registered on. */
export function queueQueueScript(
  pipeline: ChainableCommander,
  name: QueueScript,
  keys: readonly string[],
  args: readonly ScriptArg[],
  options: ScriptCallOptions = {},
): void {
  method(pipeline, name, options.buffers ?? false)(...scriptArgs(name, keys, args));
}
