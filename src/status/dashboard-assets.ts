// The dashboard's static files (plain HTML/CSS/JS, no build step), read once when the server starts.
// They sit next to this module: src/status/dashboard/ in a checkout, dist/status/dashboard/ after
// `npm run build` (scripts/copy-assets.mjs copies them).
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export interface Asset {
  readonly body: string;
  readonly contentType: string;
}

const FILES: Record<string, { file: string; contentType: string }> = {
  '/': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  '/dashboard.css': { file: 'dashboard.css', contentType: 'text/css; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', contentType: 'text/javascript; charset=utf-8' },
};

export interface DashboardAssets {
  readonly assets: ReadonlyMap<string, Asset>;
  /** Why some files could not be read (empty when all are there). */
  readonly problems: readonly string[];
}

export function loadDashboardAssets(): DashboardAssets {
  const assets = new Map<string, Asset>();
  const problems: string[] = [];
  for (const [path, { file, contentType }] of Object.entries(FILES)) {
    const location = fileURLToPath(new URL(`./dashboard/${file}`, import.meta.url));
    try {
      assets.set(path, { body: readFileSync(location, 'utf8'), contentType });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      problems.push(`dashboard file ${location} cannot be read (${code}); run "npm run build" to copy it`);
    }
  }
  return { assets, problems: [...new Set(problems)] };
}
