// The demo's mixed workload, all of it pushed by MediaWiki itself: page imports and template edits
// (real refreshLinks / htmlCacheUpdate / recentChangesUpdate jobs with recursive fan-out), null jobs,
// delayed jobs, a de-duplicated batch and jobs of a type that always fails. Two lanes (one per
// wiki) run at the same time, so the runner sees work arrive while it is busy.
import type { MediaWikiFarm } from '../farm/mediawiki-farm.js';
import type { DemoSizes } from './options.js';

export const TEMPLATE = 'Template:DemoBox';
export const FAILING_TYPE = 'mwlabFail';
export const PROBE_TYPE = 'demoProbe';

/** A push whose job count the demo chose (real MediaWiki jobs are counted from Redis instead). */
export interface PushRecord {
  readonly what: string;
  readonly wiki: string;
  readonly type: string;
  readonly requested: number;
  /** MediaWiki's reply: jobs it accepted (before its Redis-side de-duplication). */
  readonly accepted: number;
}

type Note = (text: string) => void;

function pages(count: number, wiki: string): Record<string, string> {
  const out: Record<string, string> = {
    [TEMPLATE]: '<div class="demobox">Demo box for {{{1|?}}} (first version)</div>',
  };
  for (let i = 1; i <= count; i++) {
    const next = (i % count) + 1;
    out[`DemoPage_${i}`] =
      `{{DemoBox|page ${i} on ${wiki}}}\nSee [[DemoPage_${next}]].\n[[Category:Demo pages]]`;
  }
  return out;
}

async function realJobs(farm: MediaWikiFarm, wiki: string, sizes: DemoSizes, note: Note): Promise<void> {
  await farm.importPages(wiki, pages(sizes.pages, wiki));
  note(`${wiki}: imported ${sizes.pages} pages using ${TEMPLATE} (MediaWiki queues link and cache updates)`);
  await farm.edit(wiki, TEMPLATE, '<div class="demobox">Demo box for {{{1|?}}} (edited)</div>');
  note(
    `${wiki}: edited ${TEMPLATE}: recursive refreshLinks and htmlCacheUpdate fan out to ${sizes.pages} pages`,
  );
}

async function push(
  farm: MediaWikiFarm,
  records: PushRecord[],
  note: Note,
  what: string,
  wiki: string,
  type: string,
  count: number,
  extra: Parameters<MediaWikiFarm['pushJobs']>[1] = {},
): Promise<void> {
  const accepted = await farm.pushJobs(wiki, { type, count, ...extra });
  records.push({ what, wiki, type, requested: count, accepted });
  note(`${wiki}: pushed ${count} ${what}`);
}

/** Runs both lanes; resolves with the counted pushes once MediaWiki has queued everything. */
export async function runWorkload(farm: MediaWikiFarm, sizes: DemoSizes, note: Note): Promise<PushRecord[]> {
  const [first, second] = farm.wikis;
  if (first === undefined || second === undefined) throw new Error('the demo needs a farm of two wikis');
  const records: PushRecord[] = [];
  const laneOne = async () => {
    await push(
      farm,
      records,
      note,
      `${FAILING_TYPE} jobs (always fail)`,
      first,
      FAILING_TYPE,
      sizes.failingJobs,
    );
    await push(farm, records, note, 'null jobs', first, 'null', sizes.nullJobs);
    await realJobs(farm, first, sizes, note);
  };
  const laneTwo = async () => {
    await push(farm, records, note, 'identical de-duplicated null jobs', second, 'null', sizes.dedupePushes, {
      dedupe: true,
      params: { demo: 'dedupe' },
    });
    await push(
      farm,
      records,
      note,
      `null jobs delayed by ${sizes.delaySeconds} s`,
      second,
      'null',
      sizes.delayedJobs,
      { delaySeconds: sizes.delaySeconds },
    );
    await push(farm, records, note, 'null jobs', second, 'null', sizes.nullJobs);
    await realJobs(farm, second, sizes, note);
  };
  // Both lanes finish before an error is reported, so nothing keeps pushing during clean-up.
  const lanes = await Promise.allSettled([laneOne(), laneTwo()]);
  for (const lane of lanes) if (lane.status === 'rejected') throw lane.reason;
  return records;
}
