#!/usr/bin/env node
// @ts-check
// Deploy check (a), after promote: the deployed code accepts this host's live config. Runs
// `jobrunner --check-config` and `jobchron --check-config` of the new revision against the file
// Puppet wrote, before the services restart onto it, and checks that the bundle's native modules
// were built for the Node.js this host runs.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckFailed, runCheck } from './lib/check.mjs';
import { describeExit, runProcess, tail } from './lib/process.mjs';
import { DAEMONS } from './lib/units.mjs';

/**
 * BUILD-INFO.json (written by scap/tools/build-deploy-repo.sh) records the Node.js ABI the
 * bundle's native modules were compiled for; another ABI fails at the first require().
 * @param {import('./lib/settings.mjs').Settings} settings
 * @param {number} deadline
 */
async function checkNodeAbi(settings, deadline) {
  const file = join(settings.codeDir, 'BUILD-INFO.json');
  if (!existsSync(file)) return '';
  /** @type {{ nodeVersion?: string; nodeModulesAbi?: string }} */
  const info = JSON.parse(readFileSync(file, 'utf8'));
  if (!info.nodeModulesAbi) return '';
  const timeoutMs = Math.max(1000, Math.min(15_000, deadline - Date.now()));
  const probe = await runProcess(settings.node, ['-p', 'process.versions.modules + " " + process.version'], {
    timeoutMs,
  });
  if (probe.code !== 0)
    throw new CheckFailed(`cannot run ${settings.node}: ${describeExit(probe, timeoutMs)}`);
  const [abi, version] = probe.stdout.trim().split(' ');
  if (abi !== info.nodeModulesAbi) {
    throw new CheckFailed(
      `the bundle was built with Node.js ${info.nodeVersion} (modules ABI ${info.nodeModulesAbi}) but ` +
        `${settings.node} is ${version} (ABI ${abi}); rebuild the deploy repo with this host's Node.js major version`,
    );
  }
  return `, built for Node.js ABI ${abi}`;
}

await runCheck('check-config', import.meta.url, 45, async ({ settings, deadline }) => {
  if (!existsSync(settings.configFile)) {
    throw new CheckFailed(
      `${settings.configFile} does not exist (set JOBRUNNER_CONFIG_FILE if it lives elsewhere)`,
    );
  }
  const abiNote = await checkNodeAbi(settings, deadline);
  for (const daemon of DAEMONS) {
    const script = join(settings.codeDir, 'dist', 'cli', `${daemon}.js`);
    if (!existsSync(script)) throw new CheckFailed(`${script} is missing: the deployed bundle is incomplete`);
    const timeoutMs = Math.max(1000, deadline - Date.now());
    const result = await runProcess(
      settings.node,
      [script, '--check-config', `--config-file=${settings.configFile}`],
      {
        timeoutMs,
        cwd: settings.codeDir,
      },
    );
    if (result.code !== 0) {
      throw new CheckFailed(
        `${daemon} of ${settings.codeDir} rejects ${settings.configFile} (${describeExit(result, timeoutMs)}):\n` +
          tail(`${result.stderr}\n${result.stdout}`),
      );
    }
  }
  return `jobrunner and jobchron of ${settings.codeDir} accept ${settings.configFile}${abiNote}`;
});
