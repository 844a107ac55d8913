import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  GZIP_MIN_BYTES,
  JobBlobError,
  decodeJobBlob,
  encodeJobBlob,
  encodeJobFields,
  newJobUuid,
} from '../../src/mediawiki/job-blob.js';
import { newJobFields, releaseTimestampToUnix, rootJobParams } from '../../src/mediawiki/new-job.js';
import { PhpArray, PhpObject, phpSerialize } from '../../src/mediawiki/php-serialize.js';
import { php } from '../support/php-cli.js';

const NULL_JOB =
  'a:8:{s:4:"type";s:4:"null";s:9:"namespace";i:-1;s:5:"title";s:0:"";s:6:"params";a:3:{s:5:"lives";i:1;s:6:"usleep";i:0;s:3:"seq";i:2;}s:10:"rtimestamp";i:0;s:4:"uuid";s:32:"5b0ba2f8111043eda5d5efe3d11f02a6";s:4:"sha1";s:0:"";s:9:"timestamp";i:1795829823;}';
const ROOT_REFRESH_LINKS =
  'a:8:{s:4:"type";s:12:"refreshLinks";s:9:"namespace";i:10;s:5:"title";s:3:"Box";s:6:"params";a:10:{s:5:"table";s:13:"templatelinks";s:9:"recursive";b:1;s:13:"rootJobIsSelf";b:1;s:16:"rootJobSignature";s:40:"f628445490e657a3bbd1d4d62a6447bcc215899c";s:16:"rootJobTimestamp";s:14:"20261128013736";s:11:"causeAction";s:9:"edit-page";s:10:"causeAgent";s:5:"Admin";s:9:"namespace";i:10;s:5:"title";s:3:"Box";s:9:"requestId";s:24:"4729d0555932cbfe74a14b17";}s:10:"rtimestamp";i:0;s:4:"uuid";s:32:"0f844a58d4544a8ba90af5d07a5321dd";s:4:"sha1";s:31:"0jq6bdxa5evogki924xi033iiodmadf";s:9:"timestamp";i:1795829856;}';

function bigParams(): PhpArray {
  const pages = new PhpArray();
  for (let id = 1000; id < 1100; id++) pages.set(id, PhpArray.list([0, `Page_number_${id}`]));
  return PhpArray.from([
    ['pages', pages],
    ['namespace', 0],
    ['title', 'Main_Page'],
  ]);
}

describe('decodeJobBlob / encodeJobBlob', () => {
  it('decodes the observed NullJob blob into friendly fields', () => {
    const job = decodeJobBlob(Buffer.from(NULL_JOB));
    expect(job).toMatchObject({
      type: 'null',
      namespace: -1,
      title: '',
      rtimestamp: 0,
      uuid: '5b0ba2f8111043eda5d5efe3d11f02a6',
      sha1: '',
      timestamp: 1795829823,
      compression: null,
      paramsJson: { lives: 1, usleep: 0, seq: 2 },
    });
  });

  it('re-encodes observed MediaWiki blobs byte for byte', () => {
    for (const text of [NULL_JOB, ROOT_REFRESH_LINKS]) {
      const raw = Buffer.from(text);
      const job = decodeJobBlob(raw);
      expect(encodeJobBlob(job).equals(raw)).toBe(true);
      expect(encodeJobFields(job.fields).equals(raw)).toBe(true);
      expect(encodeJobBlob(job, { compression: 'gzip' }).equals(raw)).toBe(true); // < 1024 bytes
    }
  });

  it('writes the gzip envelope for big blobs and reads it back', () => {
    const fields = newJobFields({ type: 'refreshLinks', params: bigParams(), now: 1795829856 });
    const plain = encodeJobBlob(fields);
    expect(plain.length).toBeGreaterThanOrEqual(GZIP_MIN_BYTES);
    const packed = encodeJobBlob(fields, { compression: 'gzip' });
    expect(packed.length).toBeLessThan(plain.length);
    expect(packed.toString('latin1')).toMatch(
      /^O:8:"stdClass":2:\{s:4:"blob";s:\d+:"[\s\S]*";s:3:"enc";s:4:"gzip";\}$/,
    );
    const job = decodeJobBlob(packed);
    expect(job.compression).toBe('gzip');
    expect(encodeJobFields(job.fields).equals(plain)).toBe(true);
    // PHP's JobQueueRedis::unserialize() reads our envelope back to the same plain blob.
    const phpPlain = php(
      '$o = unserialize(file_get_contents("php://stdin")); echo gzinflate($o->blob);',
      packed,
    );
    expect(phpPlain.equals(plain)).toBe(true);
  });

  it('reads an envelope written by PHP gzdeflate', () => {
    const plain = encodeJobBlob(newJobFields({ type: 'refreshLinks', params: bigParams(), now: 1 }));
    const envelope = php(
      'echo serialize((object)["blob" => gzdeflate(file_get_contents("php://stdin")), "enc" => "gzip"]);',
      plain,
    );
    const job = decodeJobBlob(envelope);
    expect(job.compression).toBe('gzip');
    expect(encodeJobFields(job.fields).equals(plain)).toBe(true);
    expect([...(job.params.get('pages') as PhpArray).keys()].slice(0, 2)).toEqual([1000, 1001]);
  });

  it('keeps the plain blob when the envelope would not be shorter', () => {
    const params = PhpArray.from([['noise', randomBytes(2000)]]);
    const fields = newJobFields({ type: 't', params });
    expect(encodeJobBlob(fields, { compression: 'gzip' }).equals(encodeJobBlob(fields))).toBe(true);
  });

  it('gives JobBlobError naming the problem, and nothing else, for unreadable blobs', () => {
    const cases: Array<[Buffer, RegExp]> = [
      [Buffer.from('s:3:"abc";'), /not an array/],
      [Buffer.from(NULL_JOB.slice(0, 50)), /byte 50/],
      [phpSerialize(new PhpObject('stdClass', PhpArray.from([['enc', 'lz4']]))), /without enc "gzip"/],
      [
        phpSerialize(
          new PhpObject(
            'stdClass',
            PhpArray.from([
              ['blob', Buffer.from([1, 2, 3])],
              ['enc', 'gzip'],
            ]),
          ),
        ),
        /does not inflate/,
      ],
      [
        phpSerialize(
          new PhpObject(
            'stdClass',
            PhpArray.from([
              ['blob', deflateRawSync('i:1;')],
              ['enc', 'gzip'],
            ]),
          ),
        ),
        /not an array/,
      ],
      [Buffer.from(NULL_JOB.replace('s:6:"params";a:3:{', 's:7:"params_";a:3:{')), /"params" is missing/],
      [Buffer.from(NULL_JOB.replace('s:4:"type";s:4:"null"', 's:4:"type";i:4')), /"type" is number/],
    ];
    for (const [raw, message] of cases) {
      expect(() => decodeJobBlob(raw)).toThrow(JobBlobError);
      expect(() => decodeJobBlob(raw)).toThrow(message);
    }
    for (let i = 0; i < 2000; i++) {
      try {
        decodeJobBlob(randomBytes(1 + (i % 64)));
      } catch (error) {
        expect(error).toBeInstanceOf(JobBlobError);
      }
    }
  });

  it('reads a delayed job whose rtimestamp MediaWiki wrote as a digit string', () => {
    const raw = Buffer.from(
      NULL_JOB.replace('s:10:"rtimestamp";i:0;', 's:10:"rtimestamp";s:10:"1795833437";'),
    );
    const job = decodeJobBlob(raw);
    expect(job.rtimestamp).toBe(1795833437);
    expect(encodeJobFields(job.fields).equals(raw)).toBe(true);
  });
});

describe('newJobFields', () => {
  it('builds fields the way getNewJobFields does', () => {
    const params = PhpArray.from([
      ['lives', 1],
      ['namespace', 10],
      ['title', 'Box'],
      ['jobReleaseTimestamp', 1795833437],
    ]);
    const fields = newJobFields({
      type: 'null',
      params,
      removeDuplicates: true,
      now: 1795829823,
      uuid: 'a'.repeat(32),
    });
    expect(fields).toMatchObject({
      namespace: 10,
      title: 'Box',
      rtimestamp: '1795833437',
      timestamp: 1795829823,
    });
    expect(fields.sha1).toMatch(/^[0-9a-z]{31}$/);
    const plain = newJobFields({ type: 'null', params: new PhpArray() });
    expect(plain).toMatchObject({ namespace: -1, title: '', rtimestamp: 0, sha1: '' });
    expect(plain.uuid).toMatch(/^[0-9a-f]{32}$/);
  });

  it('converts the release timestamp forms MediaWiki accepts', () => {
    expect(releaseTimestampToUnix('20261128013736')).toBe(String(Date.UTC(2026, 10, 28, 1, 37, 36) / 1000));
    expect(releaseTimestampToUnix('1795833437')).toBe('1795833437');
    expect(releaseTimestampToUnix('2026-11-28T01:37:36Z')).toBe(
      String(Date.UTC(2026, 10, 28, 1, 37, 36) / 1000),
    );
    expect(releaseTimestampToUnix(undefined)).toBeNull();
    expect(() => releaseTimestampToUnix('soon')).toThrow(JobBlobError);
  });

  it('makes root job params like Job::newRootJobParams', () => {
    const params = rootJobParams('refreshLinks:Template:Box', new Date(Date.UTC(2026, 10, 28, 1, 37, 36)));
    expect(params.get('rootJobTimestamp')).toBe('20261128013736');
    expect(params.get('rootJobSignature')).toMatch(/^[0-9a-f]{40}$/);
    expect(params.get('rootJobIsSelf')).toBe(true);
  });

  it('makes UUIDv4 job IDs without dashes', () => {
    const ids = new Set(Array.from({ length: 100 }, newJobUuid));
    expect(ids.size).toBe(100);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$/);
  });
});
