import { describe, expect, it } from 'vitest';
import {
  BaseConvertError,
  baseConvert,
  dedupInfoBytes,
  dedupSha1,
  sha1Base36ToHex,
  sha1HexToBase36,
} from '../../src/mediawiki/dedup-sha1.js';
import { PhpArray, PhpFloat, phpSerialize } from '../../src/mediawiki/php-serialize.js';
import { php } from '../support/php-cli.js';

const BASE_CONVERT_PHP = '/usr/share/mediawiki/vendor/wikimedia/base-convert/src/Functions.php';

// The root refreshLinks job observed on the MediaWiki 1.39.17 farm (reference §4.5).
const ROOT_REFRESH_LINKS = PhpArray.from([
  ['table', 'templatelinks'],
  ['recursive', true],
  ['rootJobIsSelf', true],
  ['rootJobSignature', 'f628445490e657a3bbd1d4d62a6447bcc215899c'],
  ['rootJobTimestamp', '20261128013736'],
  ['causeAction', 'edit-page'],
  ['causeAgent', 'Admin'],
  ['namespace', 10],
  ['title', 'Box'],
  ['requestId', '4729d0555932cbfe74a14b17'],
]);

describe('dedupSha1', () => {
  it('reproduces the sha1 MediaWiki stored for an observed refreshLinks root job', () => {
    const hash = dedupSha1('refreshLinks', ROOT_REFRESH_LINKS);
    expect(hash.base36).toBe('0jq6bdxa5evogki924xi033iiodmadf');
    expect(hash.hex).toBe('04b0ed185c2d0c26ad1d1c0a759d45b7999b0b03');
    expect(dedupInfoBytes('refreshLinks', ROOT_REFRESH_LINKS).toString()).toBe(
      'a:2:{s:4:"type";s:12:"refreshLinks";s:6:"params";a:7:{s:11:"causeAction";s:9:"edit-page";s:10:"causeAgent";s:5:"Admin";s:9:"namespace";i:10;s:9:"recursive";b:1;s:13:"rootJobIsSelf";b:1;s:5:"table";s:13:"templatelinks";s:5:"title";s:3:"Box";}}',
    );
  });

  it('ignores root, release and request fields (job variant) and the input order', () => {
    const a = PhpArray.from([
      ['b', 1],
      ['a', 2],
      ['requestId', 'x'],
      ['jobReleaseTimestamp', 5],
    ]);
    const b = PhpArray.from([
      ['a', 2],
      ['b', 1],
      ['rootJobSignature', 'y'],
      ['rootJobTimestamp', 'z'],
    ]);
    expect(dedupSha1('t', a)).toEqual(dedupSha1('t', b));
    expect(dedupSha1('t', a)).not.toEqual(dedupSha1('u', a));
    // The input array is not modified.
    expect([...a.keys()]).toEqual(['b', 'a', 'requestId', 'jobReleaseTimestamp']);
  });

  it('JobSpecification variant keeps requestId and the given order', () => {
    const a = PhpArray.from([
      ['b', 1],
      ['a', 2],
    ]);
    const b = PhpArray.from([
      ['a', 2],
      ['b', 1],
    ]);
    const spec = { variant: 'jobSpecification' } as const;
    expect(dedupSha1('t', a, spec)).not.toEqual(dedupSha1('t', b, spec));
    expect(dedupSha1('t', b, spec)).toEqual(dedupSha1('t', b));
    const withRequest = b.clone().set('requestId', 'r');
    expect(dedupSha1('t', withRequest, spec)).not.toEqual(dedupSha1('t', b, spec));
    expect(dedupSha1('t', withRequest, { ...spec, ignoreParams: ['requestId'] })).toEqual(
      dedupSha1('t', b, spec),
    );
  });

  it('matches PHP (Job::getDeduplicationInfo + Wikimedia\\base_convert) on varied params', () => {
    const cases: PhpArray[] = [
      ROOT_REFRESH_LINKS,
      PhpArray.from([
        ['lives', 1],
        ['usleep', 0],
        ['seq', 2],
      ]),
      PhpArray.from([
        ['pages', PhpArray.from([[202, PhpArray.list([0, 'BoxPage200'])]])],
        ['rootJobSignature', 'f628445490e657a3bbd1d4d62a6447bcc215899c'],
        ['triggeredRecursive', true],
        [7, new PhpFloat(0.5)],
        ['ü', null],
        ['10', 'x'],
        ['9', 'y'],
        ['Z', Buffer.from([0xff, 0])],
      ]),
      new PhpArray(),
    ];
    for (const params of cases) {
      const out = php(
        `require ${JSON.stringify(BASE_CONVERT_PHP)};
        $p = unserialize(file_get_contents("php://stdin"));
        foreach (["rootJobSignature","rootJobTimestamp","jobReleaseTimestamp","requestId"] as $k) unset($p[$k]);
        ksort($p);
        $h = sha1(serialize(["type" => "someType", "params" => $p]));
        echo $h, " ", Wikimedia\\base_convert($h, 16, 36, 31);`,
        phpSerialize(params),
      ).toString();
      const hash = dedupSha1('someType', params);
      expect(`${hash.hex} ${hash.base36}`).toBe(out);
    }
  });
});

describe('baseConvert', () => {
  it('behaves like Wikimedia\\base_convert', () => {
    expect(baseConvert('0', 16, 36, 31)).toBe('0'.repeat(31));
    expect(baseConvert('FF', 16, 10)).toBe('255');
    expect(baseConvert('zz', 36, 2, 12)).toBe('010100001111');
    expect(sha1HexToBase36('ffffffffffffffffffffffffffffffffffffffff')).toBe(
      'twj4yidkw7a8pn4g709kzmfoaol3x8f',
    );
    expect(sha1Base36ToHex('0jq6bdxa5evogki924xi033iiodmadf')).toBe(
      '04b0ed185c2d0c26ad1d1c0a759d45b7999b0b03',
    );
    expect(() => baseConvert('0x12', 16, 36)).toThrow(BaseConvertError);
    expect(() => baseConvert('', 16, 36)).toThrow(BaseConvertError);
    expect(() => baseConvert('12', 16, 37)).toThrow(BaseConvertError);
  });
});
