// The dashboard's static files (plain HTML/CSS/JS, no build step), read once when the server starts.
// They sit next to this module: src/status/dashboard/ in a checkout, dist/status/dashboard/ after
// `npm run build` (scripts/copy-assets.mjs copies them). The charts use uPlot (npm `uplot`, a small
// well-kept canvas charting library), served from node_modules under the same strict CSP.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** Files of npm packages the page loads, by URL path. */
const VENDOR: Record<string, { module: string; contentType: string }> = {
  '/vendor/uPlot.iife.min.js': {
    module: 'uplot/dist/uPlot.iife.min.js',
    contentType: 'text/javascript; charset=utf-8',
  },
  '/vendor/uPlot.min.css': { module: 'uplot/dist/uPlot.min.css', contentType: 'text/css; charset=utf-8' },
};

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
  const require = createRequire(import.meta.url);
  for (const [path, { module, contentType }] of Object.entries(VENDOR)) {
    try {
      assets.set(path, { body: readFileSync(require.resolve(module), 'utf8'), contentType });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      problems.push(`dashboard library ${module} cannot be read (${code}); run "npm ci"`);
    }
  }
  return { assets, problems: [...new Set(problems)] };
}
