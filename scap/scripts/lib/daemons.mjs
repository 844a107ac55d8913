// @ts-check
// Where the daemons' status servers listen, read from the live config with the deployed bundle's
// own loader (dist/config/load.js), so defaults and validation are exactly the daemons'.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CheckFailed } from './check.mjs';
import { httpGet, describeHttp } from './http.mjs';
import { jobCounters, parseMetrics } from './prometheus.mjs';

/** @typedef {import('./units.mjs').Daemon} Daemon */

/**
 * @typedef {object} StatusEndpoints
 * @property {Record<Daemon, string>} base  e.g. {jobrunner: "http://127.0.0.1:9150", ...}
 * @property {string} configFile
 */

/**
 * A listen address as a host to connect to: wildcard addresses mean this host; IPv6 in brackets.
 * @param {string} address
 */
function connectHost(address) {
  if (address === '0.0.0.0' || address === '') return '127.0.0.1';
  if (address === '::' || address === '[::]') return '[::1]';
  if (address.includes(':') && !address.startsWith('[')) return `[${address}]`;
  return address;
}

/**
 * @param {import('./settings.mjs').Settings} settings
 * @returns {Promise<StatusEndpoints>}
 */
export async function statusEndpoints(settings) {
  const loader = join(settings.codeDir, 'dist', 'config', 'load.js');
  if (!existsSync(loader)) {
    throw new CheckFailed(`${loader} is missing: ${settings.codeDir} is not a built jobrunner bundle`);
  }
  /** @type {{ loadConfigFile: (path: string) => { status: { enabled: boolean; address: string; runnerPort: number; chronPort: number } } }} */
  const mod = await import(pathToFileURL(loader).href);
  let config;
  try {
    config = mod.loadConfigFile(settings.configFile);
  } catch (error) {
    throw new CheckFailed(
      `cannot read ${settings.configFile}: ${error instanceof Error ? error.message : String(error)}`,
    );
  }
  const status = config.status;
  if (!status.enabled) {
    throw new CheckFailed(
      `the status servers are disabled (status.enabled is false in ${settings.configFile}); ` +
        "the deploy checks and scap's port check need them",
    );
  }
  if (status.runnerPort === 0 || status.chronPort === 0) {
    throw new CheckFailed(
      `status ports must be fixed for deploy checks (runnerPort/chronPort 0 in ${settings.configFile})`,
    );
  }
  const host = connectHost(status.address);
  return {
    base: {
      jobrunner: `http://${host}:${status.runnerPort}`,
      jobchron: `http://${host}:${status.chronPort}`,
    },
    configFile: settings.configFile,
  };
}

/**
 * The runner's job counters from its /metrics.
 * @param {StatusEndpoints} endpoints
 * @returns {Promise<import('./prometheus.mjs').JobCounters>}
 */
export async function readJobCounters(endpoints) {
  const url = `${endpoints.base.jobrunner}/metrics`;
  const result = await httpGet(url, 5000);
  if ('error' in result || result.status !== 200) {
    throw new CheckFailed(`cannot read jobrunner's metrics at ${url}: ${describeHttp(result)}`);
  }
  return jobCounters(parseMetrics(result.body));
}

/**
 * Runner slots configured over all groups, from jobrunner's /status (daemon.groups[].runners);
 * null when that cannot be read.
 * @param {StatusEndpoints} endpoints
 * @returns {Promise<number | null>}
 */
export async function readRunnerSlots(endpoints) {
  const result = await httpGet(`${endpoints.base.jobrunner}/status`, 5000);
  if ('error' in result || result.status !== 200) return null;
  try {
    /** @type {{ daemon?: { groups?: Array<{ runners?: unknown }> } }} */
    const status = JSON.parse(result.body);
    const groups = status.daemon?.groups;
    if (!Array.isArray(groups)) return null;
    return groups.reduce((sum, g) => sum + (typeof g.runners === 'number' ? g.runners : 0), 0);
  } catch {
    return null;
  }
}
