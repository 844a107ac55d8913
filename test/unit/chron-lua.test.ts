// Every chron/lease Lua script documents its KEYS and ARGV in its header, and the documented KEYS
// agree with the key counts the TypeScript side passes.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CHRON_SCRIPTS } from '../../src/chron/lua.js';

const luaDir = join(import.meta.dirname, '../../src/redis/lua');

function header(name: string): string {
  const text = readFileSync(join(luaDir, `${name}.lua`), 'utf8');
  return text
    .split('\n')
    .filter((line) => line.startsWith('--'))
    .join('\n');
}

describe('chron Lua scripts', () => {
  for (const [name, keys] of Object.entries(CHRON_SCRIPTS)) {
    it(`${name}.lua documents KEYS and ARGV`, () => {
      const text = header(name);
      expect(text).toMatch(/^-- KEYS$/m);
      expect(text).toMatch(/^-- ARGV$/m);
      if (keys !== undefined) {
        const keysSection = text.slice(text.indexOf('-- KEYS'), text.indexOf('-- ARGV'));
        const numbers = [...keysSection.matchAll(/(?:^--\s+|\s{2,})(\d+)\s/gm)].map((m) => Number(m[1]));
        expect(Math.max(...numbers)).toBe(keys);
      }
    });
  }
});
