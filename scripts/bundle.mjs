// Build step after tsc: bundles each entry (jobrunner, jobchron, jobrunner-intake, jobqueue) with
// its dependencies into one ESM file, written over tsc's dist/cli/<entry>.js, so every path that
// runs them (package.json "bin", the systemd units, scap, the benchmarks) runs the bundle.
// Why: a daemon that loads ~600 module files spends most of its first 0.4 s and ~20 MB resolving,
// reading and compiling them (README "Scale"); one file costs a fraction. Code used by
// several entries or loaded lazily (`await import(...)`) goes to shared chunks next to them, so a
// lazy module (Kafka, the legacy backend) still costs nothing until it is used. The rest of
// dist/ (tsc's output, Lua, schema, dashboard, PHP helpers) stays: tests import it and the
// bundles read their assets there.
import { readFile, readdir, rm } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');
const ENTRIES = ['jobrunner', 'jobchron', 'jobrunner-intake', 'jobqueue'];

// Modules that find their own files next to them at run time (`import.meta.url`) keep doing so:
// in a bundle (or chunk, both in dist/cli/) `import.meta.url` is the bundle's, so each source
// file's use is replaced with the URL of its tsc-built twin, where the assets were copied.
const assetUrls = {
  name: 'asset-urls',
  setup(context) {
    context.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.url')) return { contents: text, loader: 'ts' };
      const twin = `../${relative(src, args.path).replace(/\.ts$/, '.js')}`;
      const url = `new URL(${JSON.stringify(twin)}, import.meta.url).href`;
      return { contents: text.replaceAll('import.meta.url', url), loader: 'ts' };
    });
  },
};

// Chunk names carry a content hash: the last build's chunks would otherwise pile up.
const outdir = join(root, 'dist/cli');
for (const name of await readdir(outdir)) {
  if (/^chunk-[A-Z0-9]+\.js$/.test(name)) await rm(join(outdir, name));
}

await build({
  entryPoints: Object.fromEntries(ENTRIES.map((name) => [name, join(src, 'cli', `${name}.ts`)])),
  outdir,
  bundle: true,
  splitting: true,
  chunkNames: 'chunk-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // ESM builds first: jsonc-parser's "main" is a UMD file whose require() calls esbuild cannot follow.
  mainFields: ['module', 'main'],
  allowOverwrite: true,
  logLevel: 'warning',
  // Bundled CommonJS packages (ioredis, winston) call require() for Node's own modules.
  banner: {
    js: "import { createRequire as __bundleRequire } from 'node:module'; const require = __bundleRequire(import.meta.url);",
  },
  // Loaded from node_modules as before: yargs (jobqueue only) finds its locale files next to itself;
  // the Kafka client is large and loaded only for backend kafka.
  external: ['yargs', 'yargs/*', '@platformatic/kafka'],
  plugins: [assetUrls],
});
