// Copies the non-TypeScript runtime assets (Lua scripts, JSON Schema, dashboard files)
// from src/ into dist/ so the built tree is self-contained for deployment.
import { cpSync, readdirSync, statSync, mkdirSync } from 'node:fs';
import { join, dirname, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const assetExtensions = new Set(['.lua', '.json', '.html', '.css', '.js', '.php']);

function copyAssets(from, to) {
  for (const name of readdirSync(from)) {
    const source = join(from, name);
    const target = join(to, name);
    if (statSync(source).isDirectory()) {
      copyAssets(source, target);
    } else if (assetExtensions.has(extname(name)) && !name.endsWith('.ts')) {
      mkdirSync(to, { recursive: true });
      cpSync(source, target);
    }
  }
}

copyAssets(join(root, 'src'), join(root, 'dist'));
