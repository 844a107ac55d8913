// @ts-check
// The systemd units Puppet installs (templates/daemon.service.erb, titles jobrunner and jobchron)
// and whether they are masked: Puppet masks both in the passive datacenter, where nothing may run.
import { runProcess } from './process.mjs';

/** @typedef {'jobrunner' | 'jobchron'} Daemon */

/** @type {readonly Daemon[]} */
export const DAEMONS = ['jobrunner', 'jobchron'];

/** @param {Daemon} daemon */
export function unitName(daemon) {
  return `${daemon}.service`;
}

/**
 * `systemctl is-enabled` of the unit: "enabled", "disabled", "masked", "masked-runtime", ...,
 * "not-found" when no unit file exists, "no-systemctl" on a host without systemd.
 * @param {import('./settings.mjs').Settings} settings
 * @param {Daemon} daemon
 * @returns {Promise<string>}
 */
export async function unitFileState(settings, daemon) {
  const args = settings.systemctlRoot ? [`--root=${settings.systemctlRoot}`] : [];
  const result = await runProcess(settings.systemctl, [...args, 'is-enabled', unitName(daemon)], {
    timeoutMs: 15_000,
  });
  if (result.spawnError !== undefined) return 'no-systemctl';
  const state = result.stdout.trim().split('\n')[0] ?? '';
  if (state !== '') return state;
  if (/no such file|not found|does not exist/i.test(result.stderr)) return 'not-found';
  return `unknown (${result.stderr.trim() || `exit status ${result.code}`})`;
}

/** @param {string} state */
export function isMasked(state) {
  return state === 'masked' || state === 'masked-runtime';
}

/**
 * The daemons whose units are not masked, and a note naming the masked ones.
 * @param {import('./settings.mjs').Settings} settings
 * @param {readonly Daemon[]} daemons
 */
export async function activeDaemons(settings, daemons) {
  /** @type {Daemon[]} */
  const active = [];
  /** @type {Daemon[]} */
  const masked = [];
  for (const daemon of daemons) {
    if (isMasked(await unitFileState(settings, daemon))) masked.push(daemon);
    else active.push(daemon);
  }
  const note = masked.length > 0 ? `${masked.map(unitName).join(' and ')} masked (passive datacenter)` : '';
  return { active, masked, note };
}
