// Lua scripts live as .lua files beside this module (src/redis/lua, copied to dist/redis/lua).
// Each is registered on a connection with ioredis defineCommand, which runs EVALSHA and falls back
// to EVAL when Redis answers NOSCRIPT (e.g. after SCRIPT FLUSH), so a flushed script cache
// recovers by itself (the original's W25).
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';

const luaDir = join(dirname(fileURLToPath(import.meta.url)), 'lua');
const cache = new Map<string, string>();

/** Source of src/redis/lua/<name>.lua. */
export function luaSource(name: string): string {
  let source = cache.get(name);
  if (source === undefined) {
    source = readFileSync(join(luaDir, `${name}.lua`), 'utf8');
    cache.set(name, source);
  }
  return source;
}

/**
 * Registers a script as a command on the connection (idempotent). numberOfKeys undefined means the
 * caller passes the key count as the first argument (variadic scripts).
 */
export function defineLuaCommand(redis: Redis, name: string, numberOfKeys?: number): void {
  const commandName = luaCommandName(name);
  if (typeof (redis as unknown as Record<string, unknown>)[commandName] === 'function') return;
  redis.defineCommand(commandName, {
    lua: luaSource(name),
    ...(numberOfKeys === undefined ? {} : { numberOfKeys }),
  });
}

/** "chron-maintain-queue" → "jr_chron_maintain_queue" (the method name ioredis adds). */
export function luaCommandName(name: string): string {
  return 'jr_' + name.replace(/[^A-Za-z0-9]/g, '_');
}
