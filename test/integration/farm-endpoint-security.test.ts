// The farm's executor endpoints against an attacker who can reach them (real MediaWiki 1.39 under
// `php -S`): rpc/RunSingleJob.php runs only events signed with $wgSecretKey unless told otherwise,
// honours a source allow-list and never returns exception details; rpc/RunJobs.php refuses requests
// that came through a proxy on the host and unbounded maxtime / maxjobs. MediaWiki's own runJobs
// log tells which jobs ran.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildFarm, type FarmWebServer, type MediaWikiFarm } from '../../src/farm/mediawiki-farm.js';
import { startRedisServer, type RedisServerHandle } from '../../src/farm/redis-server.js';
import { buildJobEvent } from '../../src/kafka/job-event-builder.js';

let redis: RedisServerHandle;
let farm: MediaWikiFarm;
/** Defaults: signatures required, any source. */
let web: FarmWebServer;
/** $wgRunSingleJobAllowUnsigned, sources 127.0.0.0/8. */
let unsignedWeb: FarmWebServer;
/** Sources that do not include loopback. */
let elsewhereWeb: FarmWebServer;
/** JOBRUNNER_EVENT_SECRET_FILE names a key other than $wgSecretKey (as Puppet's appserver writes). */
let secretFileWeb: FarmWebServer;
/** JOBRUNNER_EVENT_SECRET_FILE names a file that does not exist. */
let missingSecretWeb: FarmWebServer;
const FILE_KEY = 'event-secret-from-the-file-0123456789abcdef';

beforeAll(async () => {
  redis = await startRedisServer();
  farm = await buildFarm({ redis, wikis: 1, debugLog: true });
  await farm.setExtraJobTypes({ secNull: 'null', secFail: 'fail' });
  const secretFile = join(farm.dir, 'event-secret');
  writeFileSync(secretFile, `${FILE_KEY}\n`, { mode: 0o600 });
  [web, unsignedWeb, elsewhereWeb, secretFileWeb, missingSecretWeb] = await Promise.all([
    farm.startWebServer(),
    farm.startWebServer({
      env: { JOBRUNNER_FARM_UNSIGNED_EVENTS: '1', JOBRUNNER_FARM_EVENT_SOURCES: '127.0.0.0/8,::1' },
    }),
    farm.startWebServer({ env: { JOBRUNNER_FARM_EVENT_SOURCES: '192.0.2.0/24,2001:db8::/32' } }),
    farm.startWebServer({ env: { JOBRUNNER_EVENT_SECRET_FILE: secretFile } }),
    farm.startWebServer({ env: { JOBRUNNER_EVENT_SECRET_FILE: join(farm.dir, 'no-such-secret') } }),
  ]);
}, 240_000);

afterAll(async () => {
  await farm?.destroy();
  await redis?.stop();
}, 60_000);

/** Markers of the jobs MediaWiki's runJobs log shows as run to the end ("… good"). */
function ran(): string[] {
  const file = join(farm.dir, 'logs', 'runJobs.log');
  if (!existsSync(file)) return [];
  return [...readFileSync(file, 'utf8').matchAll(/ marker=(s[0-9a-z-]+)\b[^\n]* good$/gm)].map(
    (m) => m[1] as string,
  );
}

async function post(
  server: FarmWebServer,
  body: Buffer | string,
  contentType = 'application/json',
): Promise<{ status: number; text: string }> {
  const response = await fetch(`${server.baseUrl}/rpc/RunSingleJob.php`, {
    method: 'POST',
    body,
    headers: { 'content-type': contentType },
  });
  return { status: response.status, text: await response.text() };
}

const event = (marker: string, extra: Record<string, unknown> = {}) => ({
  type: 'secNull',
  database: 'wiki1',
  params: { marker, ...extra },
});

describe('rpc/RunSingleJob.php', () => {
  it('refuses unsigned and wrongly signed events by default and runs those signed with $wgSecretKey', async () => {
    expect(await post(web, buildJobEvent(event('s-unsigned')).bytes)).toEqual({
      status: 403,
      text: 'Missing mediawiki signature\n',
    });
    const wrong = buildJobEvent(event('s-wrong'), { secretKey: 'guessed-secret-key' });
    expect(await post(web, wrong.bytes)).toEqual({ status: 403, text: 'Invalid mediawiki signature\n' });
    // Signed, then altered: a signature does not carry over to other params.
    const signed = buildJobEvent(event('s-signed'), { secretKey: farm.secretKey });
    const altered = Buffer.from(signed.bytes.toString('utf8').replace('s-signed', 's-altered'));
    expect(await post(web, altered)).toEqual({ status: 403, text: 'Invalid mediawiki signature\n' });
    expect(await post(web, signed.bytes)).toEqual({ status: 200, text: '' });
    expect(ran()).toEqual(['s-signed']);
  });

  it('checks signatures with the key of JOBRUNNER_EVENT_SECRET_FILE when Puppet names one', async () => {
    const before = ran();
    const withSiteKey = buildJobEvent(event('s-sitekey'), { secretKey: farm.secretKey });
    expect(await post(secretFileWeb, withSiteKey.bytes)).toEqual({
      status: 403,
      text: 'Invalid mediawiki signature\n',
    });
    expect(await post(secretFileWeb, buildJobEvent(event('s-nosig')).bytes)).toEqual({
      status: 403,
      text: 'Missing mediawiki signature\n',
    });
    const withFileKey = buildJobEvent(event('s-filekey'), { secretKey: FILE_KEY });
    expect(await post(secretFileWeb, withFileKey.bytes)).toEqual({ status: 200, text: '' });
    // A named file that cannot be read is an error, not a fallback to $wgSecretKey.
    const refused = await post(missingSecretWeb, withSiteKey.bytes);
    expect(refused.status).toBe(500);
    expect(refused.text).toMatch(/^Internal error; see the MediaWiki exception log for request \w+/);
    expect(ran().filter((m) => !before.includes(m))).toEqual(['s-filekey']);
  });

  it('answers 415 to a body that is not declared JSON (as EventBus)', async () => {
    const signed = buildJobEvent(event('s-form'), { secretKey: farm.secretKey });
    expect((await post(web, signed.bytes, 'application/x-www-form-urlencoded')).status).toBe(415);
    expect(ran()).not.toContain('s-form');
  });

  it('runs unsigned events only where explicitly allowed, and still checks a signature given', async () => {
    expect(await post(unsignedWeb, buildJobEvent(event('s-allowed')).bytes)).toEqual({
      status: 200,
      text: '',
    });
    const wrong = buildJobEvent(event('s-allowed-wrong'), { secretKey: 'guessed-secret-key' });
    expect((await post(unsignedWeb, wrong.bytes)).status).toBe(403);
    expect(ran()).toContain('s-allowed');
    expect(ran()).not.toContain('s-allowed-wrong');
  });

  it('refuses sources outside $wgRunSingleJobAllowedSources, even when signed', async () => {
    const signed = buildJobEvent(event('s-source'), { secretKey: farm.secretKey });
    expect(await post(elsewhereWeb, signed.bytes)).toEqual({
      status: 403,
      text: 'Source address not allowed\n',
    });
    expect(ran()).not.toContain('s-source');
  });

  it('returns no exception details, only a request ID to look up in the exception log', async () => {
    // Title::makeTitle() of an array: a TypeError inside Job::factory, outside the job's own run.
    const broken = buildJobEvent(
      { type: 'secNull', database: 'wiki1', params: { namespace: 0, title: ['x'], marker: 's-broken' } },
      { secretKey: farm.secretKey },
    );
    const reply = await post(web, broken.bytes);
    expect(reply.status).toBe(500);
    expect(reply.text).toMatch(/^Internal error; see the MediaWiki exception log for request [0-9a-f]+\n$/);
    expect(reply.text).not.toMatch(/TypeError|strtr|\.php|\/usr\//);
    // A failing job's own error still reaches the (authenticated) runner.
    const failing = buildJobEvent(
      { type: 'secFail', database: 'wiki1', params: { marker: 's-fail' } },
      { secretKey: farm.secretKey },
    );
    expect(await post(web, failing.bytes)).toEqual({ status: 500, text: 'secFail: deliberate failure\n' });
  });
});

describe('rpc/RunJobs.php', () => {
  async function runJobs(query: string, headers: Record<string, string> = {}): Promise<string> {
    const response = await fetch(`${web.baseUrl}/rpc/RunJobs.php?wiki=wiki1&type=secNull&${query}`, {
      method: 'POST',
      headers,
    });
    expect(response.status).toBe(200);
    return response.text();
  }

  it('refuses requests that came through a proxy on the host (loopback REMOTE_ADDR is not enough)', async () => {
    for (const header of ['x-forwarded-for', 'forwarded', 'x-real-ip', 'via', 'x-forwarded-host']) {
      expect({ header, text: await runJobs('maxtime=5', { [header]: '203.0.113.9' }) }).toEqual({
        header,
        text: 'Only loopback requests are allowed (this one came through a proxy).\n',
      });
    }
  });

  it('refuses maxtime and maxjobs outside their bounds, and runs within them', async () => {
    for (const [query, name, range] of [
      ['maxtime=86400000', 'maxtime', '1 to 3600'],
      ['maxtime=0', 'maxtime', '1 to 3600'],
      ['maxtime=-5', 'maxtime', '1 to 3600'],
      ['maxtime=5e9', 'maxtime', '1 to 3600'],
      ['maxjobs=99999999', 'maxjobs', '0 to 10000'],
      ['maxjobs=abc', 'maxjobs', '0 to 10000'],
      ['maxjobs[]=1', 'maxjobs', '0 to 10000'],
    ]) {
      expect({ query, text: await runJobs(query as string) }).toEqual({
        query,
        text: `Parameter ${name} must be a whole number from ${range}.\n`,
      });
    }
    const result = JSON.parse(await runJobs('maxtime=5&maxjobs=0')) as { reached?: string };
    expect(result.reached).toBeDefined();
  });
});
