// Whether a job-table row's job ignores duplicates. JobQueueDB stores a dedup hash (job_sha1) for
// every row, but not whether the job asked for de-duplication: that is decided by the job class
// (Job::$removeDuplicates). These rules follow MediaWiki 1.39's core job classes; a type not listed
// is treated as not de-duplicating, which can at worst let an identical job run twice later, never
// drop one. Extension types can be added with --dedup-types.
import { PhpArray, PhpFloat, type PhpValue } from '../../mediawiki/php-serialize.js';

/** Core classes that set $removeDuplicates = true unconditionally. */
const ALWAYS = new Set([
  'activityUpdateJob',
  'AssembleUploadChunks',
  'categoryMembershipChange',
  'clearUserWatchlist',
  'clearWatchlistNotifications',
  'deleteLinks',
  'PublishStashedFile',
  'recentChangesUpdate',
  'userEditCountInit',
  'userGroupExpiry',
  'userOptionsUpdate',
]);

/** HTMLCacheUpdateJob / RefreshLinksJob: only single-page jobs without a range. */
const SINGLE_PAGE = new Set([
  'htmlCacheUpdate',
  'refreshLinks',
  'refreshLinksPrioritized',
  'refreshLinksDynamic',
]);

function truthy(value: PhpValue | undefined): boolean {
  if (
    value === undefined ||
    value === null ||
    value === false ||
    value === 0 ||
    value === '' ||
    value === '0'
  )
    return false;
  if (value instanceof PhpFloat) return value.value !== 0;
  if (value instanceof PhpArray) return value.size > 0;
  return true;
}

export function ignoresDuplicates(
  type: string,
  params: PhpArray,
  extraTypes: ReadonlySet<string> = new Set(),
): boolean {
  if (ALWAYS.has(type) || extraTypes.has(type)) return true;
  if (SINGLE_PAGE.has(type)) {
    const isset = (name: string) => params.get(name) !== undefined && params.get(name) !== null;
    const pages = params.get('pages');
    const multiPage = isset('pages') && !(pages instanceof PhpArray && pages.size === 1);
    return !isset('range') && !multiPage;
  }
  // NullJob, and EventBus-era jobs, carry the flag in their params.
  return truthy(params.get('removeDuplicates'));
}
