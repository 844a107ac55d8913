// @ts-check
// The error-rate comparison of deploy check (d): the share of failed jobs and failed dispatches
// over a window, before the deploy (old process, after fetch) and after the restart (new process).
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pause } from './check.mjs';
import { readJobCounters } from './daemons.mjs';
import { growth } from './prometheus.mjs';

/** A baseline older than this is from another deploy and is ignored. */
export const BASELINE_MAX_AGE_MS = 2 * 3600 * 1000;

/**
 * @typedef {object} WindowCounts
 * @property {number} ok        jobs MediaWiki reported OK
 * @property {number} failures  failed jobs + failed, timed-out or killed dispatches
 * @property {number} seconds   length of the window
 */

/**
 * Watches the runner's counters for `seconds` (cut short by the deadline).
 * @param {import('./daemons.mjs').StatusEndpoints} endpoints
 * @param {number} seconds
 * @param {number} deadline
 * @returns {Promise<WindowCounts>}
 */
export async function watchWindow(endpoints, seconds, deadline) {
  const start = Date.now();
  const first = await readJobCounters(endpoints);
  await pause(seconds * 1000, deadline - 1000);
  const last = await readJobCounters(endpoints);
  return {
    ok: growth(first.ok, last.ok),
    failures: growth(first.failed, last.failed) + growth(first.problems, last.problems),
    seconds: (Date.now() - start) / 1000,
  };
}

/** @param {WindowCounts} w */
export function failureRatio(w) {
  const total = w.ok + w.failures;
  return total === 0 ? 0 : w.failures / total;
}

/** @param {number} ratio */
const percent = (ratio) => `${(ratio * 100).toFixed(1)}%`;

/** @param {WindowCounts} w */
export function describeWindow(w) {
  return `${w.failures} failure(s) and ${w.ok} OK job(s) in ${w.seconds.toFixed(0)} s (${percent(failureRatio(w))} failed)`;
}

/**
 * @param {WindowCounts} after
 * @param {WindowCounts | undefined} baseline
 * @param {{ errorMinFailures: number; errorMaxRatio: number; errorFactor: number }} limits
 * @returns {{ pass: boolean; message: string }}
 */
export function judge(after, baseline, limits) {
  const ratio = failureRatio(after);
  const base = baseline === undefined ? undefined : failureRatio(baseline);
  const allowed = Math.max(limits.errorMaxRatio, base === undefined ? 0 : base * limits.errorFactor);
  const basis =
    base === undefined
      ? `no baseline from before the deploy, so the floor ${percent(limits.errorMaxRatio)}`
      : `${limits.errorFactor}× the ${percent(base)} before the deploy, at least ${percent(limits.errorMaxRatio)}`;
  if (after.failures < limits.errorMinFailures) {
    return {
      pass: true,
      message: `${describeWindow(after)}: fewer than ${limits.errorMinFailures} failures, nothing to judge`,
    };
  }
  if (ratio > allowed) {
    return {
      pass: false,
      message: `error rate jumped after the restart: ${describeWindow(after)}; allowed ${percent(allowed)} (${basis})`,
    };
  }
  return { pass: true, message: `${describeWindow(after)}; allowed ${percent(allowed)} (${basis})` };
}

/** @param {import('./settings.mjs').Settings} settings */
function baselineFile(settings) {
  return join(settings.stateDir, 'error-rate-baseline.json');
}

/**
 * @param {import('./settings.mjs').Settings} settings
 * @param {WindowCounts} counts
 */
export function saveBaseline(settings, counts) {
  mkdirSync(settings.stateDir, { recursive: true, mode: 0o700 });
  const file = baselineFile(settings);
  const record = { takenAt: Date.now(), revPath: settings.raw.SCAP_REV_PATH ?? null, counts };
  writeFileSync(`${file}.tmp`, `${JSON.stringify(record)}\n`, { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return file;
}

/** @param {import('./settings.mjs').Settings} settings */
export function forgetBaseline(settings) {
  rmSync(baselineFile(settings), { force: true });
}

/**
 * The baseline of this deploy, if one was taken (same revision, not too old).
 * @param {import('./settings.mjs').Settings} settings
 * @returns {{ counts: WindowCounts | undefined; why: string }}
 */
export function loadBaseline(settings) {
  const file = baselineFile(settings);
  let record;
  try {
    record = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return { counts: undefined, why: `no baseline in ${file}` };
  }
  const counts = record?.counts;
  if (
    typeof counts?.ok !== 'number' ||
    typeof counts?.failures !== 'number' ||
    typeof counts?.seconds !== 'number'
  ) {
    return { counts: undefined, why: `unreadable baseline in ${file}` };
  }
  if (typeof record.takenAt !== 'number' || Date.now() - record.takenAt > BASELINE_MAX_AGE_MS) {
    return { counts: undefined, why: `baseline in ${file} is too old` };
  }
  const rev = settings.raw.SCAP_REV_PATH ?? null;
  if (rev !== null && record.revPath !== rev) {
    return { counts: undefined, why: `baseline in ${file} belongs to another deploy (${record.revPath})` };
  }
  return { counts, why: `baseline: ${describeWindow(counts)}` };
}
